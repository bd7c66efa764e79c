package dev.mlsds.codec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * A strict cursor over TLS presentation-language bytes as RFC 9420 §2.1 uses them.
 *
 * <p>Rules it enforces, each with an {@link MlsDecodeException} naming the field and offset:
 * <ul>
 *   <li>fixed-width integers need their full width in the remaining input;</li>
 *   <li>vector lengths are RFC 9000-style variable-length integers; the {@code 11} prefix is
 *       invalid and a non-minimal encoding is malformed (RFC 9420 §2.1.2);</li>
 *   <li>a vector length must not exceed the bytes left in the enclosing vector, so no decoder ever
 *       allocates more than the size of its input;</li>
 *   <li>an {@code optional<T>} presence byte is 0 or 1;</li>
 *   <li>a vector's elements must consume it exactly, and {@link #expectEnd} checks the outermost
 *       structure consumed all input;</li>
 *   <li>a vector of structs holds at most its cap of elements, and one decode creates at most
 *       {@link CodecLimits#budgetFor its budget} of elements in all (see {@link CodecLimits}).</li>
 * </ul>
 *
 * <p>Offsets are absolute positions in the array the outermost reader was created over, also for
 * readers returned by {@link #vector}. Not thread-safe; one reader per decode.
 */
public final class MlsReader {
    private static final byte[] EMPTY = new byte[0];
    private final byte[] buf;
    private final int end;
    private int pos;
    /** Elements this decode may still create; shared with the readers of nested vectors. */
    private final int[] budget;

    public MlsReader(byte[] buf) {
        this(buf, 0, buf.length, new int[] {CodecLimits.budgetFor(buf.length)});
    }

    private MlsReader(byte[] buf, int start, int end, int[] budget) {
        this.buf = buf;
        this.pos = start;
        this.end = end;
        this.budget = budget;
    }

    /** Absolute offset of the next byte to read. */
    public int position() {
        return pos;
    }

    public int remaining() {
        return end - pos;
    }

    public boolean hasRemaining() {
        return pos < end;
    }

    private void need(int n, String field, String what) {
        if (end - pos < n) {
            throw new MlsDecodeException(
                    field + ": truncated, " + what + " needs " + n + " bytes but " + (end - pos) + " left", pos);
        }
    }

    public int u8(String field) {
        need(1, field, "uint8");
        return buf[pos++] & 0xFF;
    }

    public int u16(String field) {
        need(2, field, "uint16");
        int v = ((buf[pos] & 0xFF) << 8) | (buf[pos + 1] & 0xFF);
        pos += 2;
        return v;
    }

    /** An unsigned 32-bit integer, returned as a non-negative long. */
    public long u32(String field) {
        need(4, field, "uint32");
        long v = ((long) (buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16)
                | ((buf[pos + 2] & 0xFF) << 8) | (buf[pos + 3] & 0xFF);
        pos += 4;
        return v;
    }

    /** An unsigned 64-bit integer in a long's bits: compare with {@link Long#compareUnsigned}. */
    public long u64(String field) {
        need(8, field, "uint64");
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (buf[pos + i] & 0xFF);
        }
        pos += 8;
        return v;
    }

    /**
     * A vector length header (RFC 9420 §2.1.2): 1, 2 or 4 bytes chosen by the two top bits, minimal
     * encoding required, prefix {@code 11} rejected.
     */
    public int varint(String field) {
        int start = pos;
        need(1, field, "vector length");
        int first = buf[pos] & 0xFF;
        int prefix = first >>> 6;
        int value;
        switch (prefix) {
            case 0 -> {
                value = first;
                pos += 1;
            }
            case 1 -> {
                need(2, field, "2-byte vector length");
                value = ((first & 0x3F) << 8) | (buf[pos + 1] & 0xFF);
                if (value < 64) {
                    throw new MlsDecodeException(field + ": non-minimal 2-byte vector length " + value, start);
                }
                pos += 2;
            }
            case 2 -> {
                need(4, field, "4-byte vector length");
                value = ((first & 0x3F) << 24) | ((buf[pos + 1] & 0xFF) << 16)
                        | ((buf[pos + 2] & 0xFF) << 8) | (buf[pos + 3] & 0xFF);
                if (value < 16384) {
                    throw new MlsDecodeException(field + ": non-minimal 4-byte vector length " + value, start);
                }
                pos += 4;
            }
            default -> throw new MlsDecodeException(field + ": invalid vector length prefix 0b11", start);
        }
        return value;
    }

    /**
     * Reads a vector header and returns a reader confined to its body, advancing this reader past it.
     * The length is checked against the bytes left before anything else happens.
     */
    public MlsReader vector(String field) {
        int length = vectorLength(field);
        MlsReader body = new MlsReader(buf, pos, pos + length, budget);
        pos += length;
        return body;
    }

    private int vectorLength(String field) {
        int start = pos;
        int length = varint(field);
        if (length > end - pos) {
            throw new MlsDecodeException(
                    field + ": vector length " + length + " exceeds the " + (end - pos) + " bytes left", start);
        }
        return length;
    }

    /** {@code opaque field<V>}: a copy of the vector's bytes (one shared array when empty). */
    public byte[] opaque(String field) {
        int length = vectorLength(field);
        if (length == 0) {
            return EMPTY;
        }
        pos += length;
        return Arrays.copyOfRange(buf, pos - length, pos);
    }

    /** The presence byte of {@code optional<T>}: 0 is absent, 1 present, anything else malformed. */
    public boolean optional(String field) {
        int start = pos;
        int flag = u8(field);
        if (flag > 1) {
            throw new MlsDecodeException(field + ": optional presence byte must be 0 or 1, got " + flag, start);
        }
        return flag == 1;
    }

    /**
     * {@code uint16 field<V>}: a vector whose byte length must be even, of at most {@code max} entries.
     * Entries are kept as given (duplicates included): whether they may repeat is the caller's rule.
     */
    public List<Integer> u16List(String field, int max) {
        int start = pos;
        MlsReader body = vector(field);
        if ((body.remaining() & 1) != 0) {
            throw new MlsDecodeException(
                    field + ": vector of uint16 has odd byte length " + body.remaining(), start);
        }
        int count = body.remaining() / 2;
        if (count > max) {
            throw new MlsDecodeException(field + ": " + count + " entries exceed the limit of " + max, start);
        }
        Integer[] out = new Integer[count];
        for (int i = 0; i < count; i++) {
            out[i] = body.u16(field);
        }
        return List.of(out);
    }

    /**
     * {@code T field<V>}: decodes elements until the vector's bytes are used up exactly; more than
     * {@code max} elements, or more than the decode's remaining element budget, is malformed.
     */
    public <T> List<T> list(String field, int max, Function<MlsReader, T> element) {
        int start = pos;
        MlsReader body = vector(field);
        List<T> out = new ArrayList<>(Math.min(max, 8));
        while (body.hasRemaining()) {
            if (out.size() == max) {
                throw new MlsDecodeException(field + ": more than " + max + " elements", start);
            }
            if (budget[0]-- <= 0) {
                throw new MlsDecodeException(field + ": the input holds more elements than its size allows ("
                        + CodecLimits.BUDGET_BASE + " + 1 per " + CodecLimits.BYTES_PER_ELEMENT + " bytes)", start);
            }
            out.add(element.apply(body));
        }
        return Collections.unmodifiableList(out);
    }

    /** Fails unless every byte of this reader has been consumed. */
    public void expectEnd(String structure) {
        if (pos != end) {
            throw new MlsDecodeException(structure + ": " + (end - pos) + " trailing bytes", pos);
        }
    }

    /** A copy of the bytes from absolute offset {@code start} up to the current position. */
    public byte[] bytesFrom(int start) {
        return Arrays.copyOfRange(buf, start, pos);
    }
}
