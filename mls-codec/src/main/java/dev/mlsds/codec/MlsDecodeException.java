package dev.mlsds.codec;

/**
 * The only exception the decoders throw: the input is not a well-formed encoding of the structure
 * asked for. {@link #reason()} names the field and the rule that failed; {@link #offset()} is the
 * byte offset, within the array handed to the decoder, where the offending item starts.
 *
 * <p>Decoders never let an index, null-pointer or arithmetic exception escape: every bound is
 * checked before it is used, so a caller can map this one type to "malformed input".
 */
public final class MlsDecodeException extends RuntimeException {
    private final String reason;
    private final int offset;

    public MlsDecodeException(String reason, int offset) {
        super(reason + " at offset " + offset);
        this.reason = reason;
        this.offset = offset;
    }

    /** What was wrong, naming the field, e.g. {@code "init_key: vector length 300 exceeds the 12 bytes left"}. */
    public String reason() {
        return reason;
    }

    /** Byte offset in the decoded array where the offending item starts. */
    public int offset() {
        return offset;
    }
}
