package dev.mlsds.codec;

/** {@code MLSMessage.wire_format} (RFC 9420 §6, §17.2). Other values, including 0, are not decodable. */
public enum WireFormat {
    MLS_PUBLIC_MESSAGE(1),
    MLS_PRIVATE_MESSAGE(2),
    MLS_WELCOME(3),
    MLS_GROUP_INFO(4),
    MLS_KEY_PACKAGE(5);

    private final int value;

    WireFormat(int value) {
        this.value = value;
    }

    public int value() {
        return value;
    }

    /** The RFC's lowercase name, e.g. {@code mls_public_message}. */
    public String rfcName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static WireFormat read(MlsReader r) {
        int at = r.position();
        int v = r.u16("wire_format");
        for (WireFormat f : values()) {
            if (f.value == v) {
                return f;
            }
        }
        throw new MlsDecodeException("wire_format: unknown value " + v, at);
    }
}
