package dev.mlsds.codec;

/**
 * {@code MLSMessage} (RFC 9420 §6): one of the five wire formats, decoded strictly.
 *
 * <p>{@link #decode} accepts only {@code version = mls10} (the body of any other version is undefined)
 * and the five defined wire formats, and requires the message to use every input byte. Every
 * decoded message keeps the exact input in {@link #raw()}; {@link #encode()} re-encodes from the
 * parsed fields, which is how the tests prove the codec byte-exact.
 */
public sealed interface MlsMessage permits PublicMessage, PrivateMessage, Welcome, GroupInfo, KeyPackage {

    WireFormat wireFormat();

    /** The bytes this message was decoded from (shared, do not modify). */
    byte[] raw();

    /** Re-encodes the message from its fields. */
    byte[] encode();

    /**
     * Decodes one complete MLSMessage.
     *
     * @throws MlsDecodeException if the bytes are not exactly one well-formed MLSMessage
     */
    static MlsMessage decode(byte[] bytes) {
        byte[] raw = bytes.clone();
        MlsReader r = new MlsReader(raw);
        int versionAt = r.position();
        int version = r.u16("version");
        if (version != KeyPackage.MLS10) {
            throw new MlsDecodeException("version: unsupported protocol version " + version, versionAt);
        }
        WireFormat format = WireFormat.read(r);
        MlsMessage message = switch (format) {
            case MLS_PUBLIC_MESSAGE -> PublicMessage.read(r, raw);
            case MLS_PRIVATE_MESSAGE -> PrivateMessage.read(r, raw);
            case MLS_WELCOME -> Welcome.read(r, raw);
            case MLS_GROUP_INFO -> GroupInfo.read(r, raw);
            case MLS_KEY_PACKAGE -> KeyPackage.read(r, raw, true);
        };
        r.expectEnd(format.rfcName());
        return message;
    }
}
