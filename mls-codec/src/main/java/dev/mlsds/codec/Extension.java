package dev.mlsds.codec;

import java.util.List;

/**
 * {@code Extension} (RFC 9420 §13): a 16-bit type and opaque data the codec does not interpret.
 * The byte array is shared, not copied: do not modify it.
 */
public record Extension(int type, byte[] data) {
    public static final int APPLICATION_ID = 0x0001;
    public static final int RATCHET_TREE = 0x0002;
    public static final int REQUIRED_CAPABILITIES = 0x0003;
    public static final int EXTERNAL_PUB = 0x0004;
    public static final int EXTERNAL_SENDERS = 0x0005;
    /** {@code last_resort} KeyPackage extension (mls-extensions draft, OpenMLS {@code LastResort = 10}). */
    public static final int LAST_RESORT = 0x000A;

    /** The five extension types RFC 9420 §7.2 says a client must not list in its capabilities. */
    public static boolean isDefault(int type) {
        return type >= APPLICATION_ID && type <= EXTERNAL_SENDERS;
    }

    /**
     * Whether {@code value} is one of the GREASE code points 0x0A0A, 0x1A1A, … 0xEAEA that RFC 9420
     * §13.5 reserves in every 16-bit registry; receivers ignore them.
     */
    public static boolean isGrease(int value) {
        int high = value >>> 12;
        return (value & 0x0F0F) == 0x0A0A && high == ((value >>> 4) & 0xF) && high != 0xF && value <= 0xFFFF;
    }

    public static Extension read(MlsReader r) {
        int type = r.u16("extension_type");
        return new Extension(type, r.opaque("extension_data"));
    }

    public void write(MlsWriter w) {
        w.u16(type).opaque(data);
    }

    /** An extension list of at most {@link CodecLimits#EXTENSIONS} entries. */
    static List<Extension> readList(MlsReader r, String field) {
        return r.list(field, CodecLimits.EXTENSIONS, Extension::read);
    }

    static void writeList(MlsWriter w, List<Extension> extensions) {
        w.list(extensions, Extension::write);
    }

    static boolean contains(List<Extension> extensions, int type) {
        for (Extension e : extensions) {
            if (e.type == type) {
                return true;
            }
        }
        return false;
    }
}
