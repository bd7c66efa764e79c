package dev.mlsds.codec;

/** {@code ContentType} of a framed message (RFC 9420 §6). Other values, including 0, are malformed. */
public enum ContentType {
    APPLICATION(1),
    PROPOSAL(2),
    COMMIT(3);

    private final int value;

    ContentType(int value) {
        this.value = value;
    }

    public int value() {
        return value;
    }

    /** The RFC's lowercase name: {@code application}, {@code proposal} or {@code commit}. */
    public String rfcName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static ContentType read(MlsReader r) {
        int at = r.position();
        int v = r.u8("content_type");
        return switch (v) {
            case 1 -> APPLICATION;
            case 2 -> PROPOSAL;
            case 3 -> COMMIT;
            default -> throw new MlsDecodeException("content_type: unknown value " + v, at);
        };
    }
}
