package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/** The strict reader's rules, each with the exact error it must give. */
class MlsReaderTest {

    private static MlsReader reader(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return new MlsReader(b);
    }

    @Test
    void varintBoundariesRoundTrip() {
        for (int length : new int[] {0, 1, 63, 64, 16383, 16384, MlsWriter.MAX_VECTOR_LENGTH}) {
            byte[] header = new MlsWriter().varint(length).toByteArray();
            assertThat(header).hasSize(MlsWriter.varintSize(length));
            assertThat(new MlsReader(header).varint("v")).isEqualTo(length);
        }
        assertThatThrownBy(() -> new MlsWriter().varint(1 << 30)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void nonMinimalTwoByteVarintIsRejected() {
        assertThatThrownBy(() -> reader(0x40, 0x3F).varint("init_key"))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("init_key: non-minimal 2-byte vector length 63");
                    assertThat(e.offset()).isZero();
                });
    }

    @Test
    void nonMinimalFourByteVarintIsRejected() {
        assertThatThrownBy(() -> reader(0x80, 0x00, 0x3F, 0xFF).varint("v"))
                .isInstanceOfSatisfying(MlsDecodeException.class,
                        e -> assertThat(e.reason()).isEqualTo("v: non-minimal 4-byte vector length 16383"));
        assertThatThrownBy(() -> reader(0x80, 0x00, 0x00, 0x05).varint("v"))
                .isInstanceOf(MlsDecodeException.class);
    }

    @Test
    void elevenPrefixIsRejected() {
        for (int first : new int[] {0xC0, 0xFF}) {
            assertThatThrownBy(() -> reader(first, 0, 0, 0, 0, 0, 0, 0).varint("v"))
                    .isInstanceOfSatisfying(MlsDecodeException.class,
                            e -> assertThat(e.reason()).isEqualTo("v: invalid vector length prefix 0b11"));
        }
    }

    @Test
    void optionalPresenceByteMustBeZeroOrOne() {
        assertThat(reader(0).optional("path")).isFalse();
        assertThat(reader(1).optional("path")).isTrue();
        assertThatThrownBy(() -> reader(2).optional("path"))
                .isInstanceOfSatisfying(MlsDecodeException.class,
                        e -> assertThat(e.reason()).isEqualTo("path: optional presence byte must be 0 or 1, got 2"));
    }

    @Test
    void hugeLengthPrefixOnTenByteInputFailsWithoutAllocating() {
        // 0xBFFFFFFF is the largest encodable length, 2^30 - 1, followed by six bytes.
        byte[] input = {(byte) 0xBF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 1, 2, 3, 4, 5, 6};
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        assertThatThrownBy(() -> new MlsReader(input).opaque("init_key"))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("init_key: vector length 1073741823 exceeds the 6 bytes left");
                    assertThat(e.offset()).isZero();
                });
        assertThatThrownBy(() -> KeyPackage.decode(input)).isInstanceOf(MlsDecodeException.class);
        assertThatThrownBy(() -> MlsMessage.decode(input)).isInstanceOf(MlsDecodeException.class);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertThat(allocated).as("bytes allocated while rejecting").isLessThan(1 << 20);
    }

    @Test
    void nestedVectorCannotReachPastItsParent() {
        // Outer vector of 3 bytes holds an inner vector claiming 5; 10 bytes remain in the input overall.
        MlsReader outer = reader(0x03, 0x05, 0xAA, 0xBB, 0, 0, 0, 0, 0, 0, 0, 0).vector("outer");
        assertThatThrownBy(() -> outer.opaque("inner"))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("inner: vector length 5 exceeds the 2 bytes left");
                    assertThat(e.offset()).isEqualTo(1);
                });
    }

    @Test
    void truncatedIntegersReportFieldAndOffset() {
        assertThatThrownBy(() -> reader(0, 1, 0).u32("leaf_index"))
                .isInstanceOfSatisfying(MlsDecodeException.class,
                        e -> assertThat(e.getMessage()).isEqualTo("leaf_index: truncated, uint32 needs 4 bytes but 3 left at offset 0"));
        assertThatThrownBy(() -> reader(1, 2, 3, 4, 5, 6, 7).u64("epoch")).isInstanceOf(MlsDecodeException.class);
        assertThatThrownBy(() -> reader(0x40).varint("v")).isInstanceOf(MlsDecodeException.class);
    }

    @Test
    void unsignedIntegersKeepTheirHighBit() {
        assertThat(reader(0xFF, 0xFF, 0xFF, 0xFF).u32("x")).isEqualTo(0xFFFFFFFFL);
        assertThat(reader(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE).u64("x")).isEqualTo(-2L);
        assertThat(reader(0xFF, 0xFE).u16("x")).isEqualTo(0xFFFE);
    }

    @Test
    void uint16VectorMustHaveEvenLength() {
        assertThatThrownBy(() -> reader(0x03, 0, 1, 0).u16List("capabilities.versions", 64))
                .isInstanceOfSatisfying(MlsDecodeException.class,
                        e -> assertThat(e.reason()).isEqualTo("capabilities.versions: vector of uint16 has odd byte length 3"));
        assertThat(reader(0x04, 0, 1, 0x0A, 0x0A).u16List("x", 64)).containsExactly(1, 0x0A0A);
    }

    @Test
    void listMustConsumeItsVectorExactly() {
        // A vector of 3 bytes cannot hold whole uint16 elements.
        assertThatThrownBy(() -> reader(0x03, 0, 1, 0).list("l", 10, r -> r.u16("e")))
                .isInstanceOfSatisfying(MlsDecodeException.class,
                        e -> assertThat(e.reason()).startsWith("e: truncated"));
    }

    @Test
    void expectEndRejectsTrailingBytes() {
        MlsReader r = reader(1, 2);
        r.u8("a");
        assertThatThrownBy(() -> r.expectEnd("KeyPackage"))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("KeyPackage: 1 trailing bytes");
                    assertThat(e.offset()).isEqualTo(1);
                });
    }

    @Test
    void writerVectorPicksTheMinimalHeader() {
        for (int length : new int[] {0, 63, 64, 16383, 16384}) {
            byte[] encoded = new MlsWriter().vector(w -> w.bytes(new byte[length])).toByteArray();
            assertThat(encoded).hasSize(MlsWriter.varintSize(length) + length);
            assertThat(new MlsReader(encoded).opaque("v")).hasSize(length);
        }
    }

    @Test
    void greaseValuesAreExactlyTheRfcList() {
        int count = 0;
        for (int v = 0; v <= 0xFFFF; v++) {
            if (Extension.isGrease(v)) {
                count++;
                assertThat(v & 0xFF).isEqualTo(v >>> 8);
            }
        }
        assertThat(count).isEqualTo(15);
        assertThat(Extension.isGrease(0x0A0A)).isTrue();
        assertThat(Extension.isGrease(0xEAEA)).isTrue();
        assertThat(Extension.isGrease(0xFAFA)).isFalse();
        assertThat(Extension.isGrease(0x0A1A)).isFalse();
    }
}
