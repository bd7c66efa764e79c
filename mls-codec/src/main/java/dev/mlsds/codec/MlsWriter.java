package dev.mlsds.codec;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Growable encoder producing the canonical encoding that {@link MlsReader} accepts: minimal
 * variable-length vector headers, big-endian integers. Used by the re-encoders and the test-support
 * builders; not on the validation hot path.
 */
public final class MlsWriter {
    /** Largest vector body a variable-length header can describe (RFC 9420 §2.1.2). */
    public static final int MAX_VECTOR_LENGTH = (1 << 30) - 1;

    private byte[] buf;
    private int size;

    public MlsWriter() {
        this(256);
    }

    /** A writer whose buffer starts at {@code capacity} bytes; it still grows as needed. */
    public MlsWriter(int capacity) {
        this.buf = new byte[Math.max(capacity, 4)];
    }

    private void ensure(int extra) {
        if (buf.length - size < extra) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + extra));
        }
    }

    public MlsWriter u8(int v) {
        ensure(1);
        buf[size++] = (byte) v;
        return this;
    }

    public MlsWriter u16(int v) {
        ensure(2);
        buf[size++] = (byte) (v >>> 8);
        buf[size++] = (byte) v;
        return this;
    }

    public MlsWriter u32(long v) {
        ensure(4);
        for (int shift = 24; shift >= 0; shift -= 8) {
            buf[size++] = (byte) (v >>> shift);
        }
        return this;
    }

    public MlsWriter u64(long v) {
        ensure(8);
        for (int shift = 56; shift >= 0; shift -= 8) {
            buf[size++] = (byte) (v >>> shift);
        }
        return this;
    }

    public MlsWriter bytes(byte[] b) {
        return bytes(b, 0, b.length);
    }

    public MlsWriter bytes(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, buf, size, len);
        size += len;
        return this;
    }

    /** The minimal variable-length header for a vector of {@code length} bytes. */
    public MlsWriter varint(int length) {
        if (length < 0 || length > MAX_VECTOR_LENGTH) {
            throw new IllegalArgumentException("vector length " + length + " cannot be encoded");
        }
        if (length < 64) {
            return u8(length);
        }
        if (length < 16384) {
            return u16(0x4000 | length);
        }
        return u32(0x80000000L | length);
    }

    /** Number of header bytes {@link #varint} writes for {@code length}. */
    public static int varintSize(int length) {
        return length < 64 ? 1 : length < 16384 ? 2 : 4;
    }

    public MlsWriter opaque(byte[] b) {
        return varint(b.length).bytes(b);
    }

    public MlsWriter optional(boolean present) {
        return u8(present ? 1 : 0);
    }

    /** Writes a vector whose body {@code body} produces, prefixed with its minimal length header. */
    public MlsWriter vector(Consumer<MlsWriter> body) {
        // Reserve the largest header, write the body, then close the gap if a shorter header suffices.
        ensure(4);
        int headerAt = size;
        size += 4;
        body.accept(this);
        int length = size - headerAt - 4;
        int headerSize = varintSize(length);
        System.arraycopy(buf, headerAt + 4, buf, headerAt + headerSize, length);
        int bodyEnd = size - (4 - headerSize);
        size = headerAt;
        varint(length);
        size = bodyEnd;
        return this;
    }

    public MlsWriter u16List(List<Integer> values) {
        return vector(w -> values.forEach(w::u16));
    }

    public <T> MlsWriter list(List<T> items, java.util.function.BiConsumer<T, MlsWriter> element) {
        return vector(w -> items.forEach(item -> element.accept(item, w)));
    }

    /** A writer that already holds the 4-byte MLSMessage header {@code mls10 || format}. */
    static MlsWriter messageHeader(WireFormat format) {
        return new MlsWriter().u16(KeyPackage.MLS10).u16(format.value());
    }

    public int size() {
        return size;
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }
}
