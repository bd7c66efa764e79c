package dev.mlsds.codec;

/**
 * {@code Lifetime} of a KeyPackage's LeafNode (RFC 9420 §7.2): unsigned 64-bit seconds since the
 * Unix epoch, held in a long's bits. Compare with {@link Long#compareUnsigned}; print with
 * {@link Long#toUnsignedString}. Generators often use 0 and 2^64-1 for "unbounded".
 */
public record Lifetime(long notBefore, long notAfter) {
    public static Lifetime read(MlsReader r) {
        return new Lifetime(r.u64("lifetime.not_before"), r.u64("lifetime.not_after"));
    }

    public void write(MlsWriter w) {
        w.u64(notBefore).u64(notAfter);
    }
}
