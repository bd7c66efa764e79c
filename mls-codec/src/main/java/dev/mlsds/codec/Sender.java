package dev.mlsds.codec;

/**
 * {@code Sender} of a PublicMessage (RFC 9420 §6). {@code index} is the leaf index for a
 * {@link Type#MEMBER}, the position in the {@code external_senders} extension for an
 * {@link Type#EXTERNAL} sender, and -1 for the two new-member types, which carry no index.
 */
public record Sender(Type type, long index) {
    /** {@code SenderType}; 0 and unknown values are malformed. */
    public enum Type {
        MEMBER(1),
        EXTERNAL(2),
        NEW_MEMBER_PROPOSAL(3),
        NEW_MEMBER_COMMIT(4);

        private final int value;

        Type(int value) {
            this.value = value;
        }

        public int value() {
            return value;
        }

        public String rfcName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public boolean hasIndex() {
            return this == MEMBER || this == EXTERNAL;
        }
    }

    public Sender {
        if (type.hasIndex() ? index < 0 || index > 0xFFFFFFFFL : index != -1) {
            throw new IllegalArgumentException("index " + index + " does not fit sender type " + type);
        }
    }

    public static Sender read(MlsReader r) {
        int at = r.position();
        int v = r.u8("sender_type");
        return switch (v) {
            case 1 -> new Sender(Type.MEMBER, r.u32("leaf_index"));
            case 2 -> new Sender(Type.EXTERNAL, r.u32("sender_index"));
            case 3 -> new Sender(Type.NEW_MEMBER_PROPOSAL, -1);
            case 4 -> new Sender(Type.NEW_MEMBER_COMMIT, -1);
            default -> throw new MlsDecodeException("sender_type: unknown value " + v, at);
        };
    }

    public void write(MlsWriter w) {
        w.u8(type.value);
        if (type.hasIndex()) {
            w.u32(index);
        }
    }
}
