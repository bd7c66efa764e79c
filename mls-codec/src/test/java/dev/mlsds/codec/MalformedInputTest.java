package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.codec.testing.TestMessages;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Negative cases on whole messages: truncation at every offset, non-minimal and {@code 11} vector
 * headers, a bad optional byte, trailing garbage, and byte mutations that must give either a valid
 * decode or an {@link MlsDecodeException}, never another exception.
 */
class MalformedInputTest {
    private static final Instant INSIDE_2023_LIFETIMES = Instant.parse("2023-04-01T00:00:00Z");

    private static JsonNode set0() {
        return Vectors.load("messages.json").get(0);
    }

    @Test
    void everyTruncationOfAKeyPackageIsRejected() {
        byte[] framed = Vectors.hex(set0().get("mls_key_package"));
        byte[] bare = Arrays.copyOfRange(framed, 4, framed.length);
        KeyPackageValidator validator = new KeyPackageValidator(
                Clock.fixed(INSIDE_2023_LIFETIMES, ZoneOffset.UTC), KeyPackagePolicy.defaults());
        assertThat(validator.validate(framed, null)).isNotNull();
        for (byte[] whole : List.of(framed, bare)) {
            for (int length = 0; length < whole.length; length++) {
                byte[] cut = Arrays.copyOf(whole, length);
                int n = length;
                assertThatThrownBy(() -> KeyPackage.decode(cut)).as("truncated to %d", n)
                        .isInstanceOf(MlsDecodeException.class);
                assertThatThrownBy(() -> validator.validate(cut, null)).as("truncated to %d", n)
                        .isInstanceOfSatisfying(InvalidKeyPackageException.class, e -> assertThat(e.rule()).isEqualTo("parse"));
            }
        }
    }

    @Test
    void everyTruncationOfAWelcomeIsRejected() {
        for (JsonNode v : Vectors.load("welcome.json")) {
            byte[] welcome = Vectors.hex(v.get("welcome"));
            assertThat(MlsMessage.decode(welcome)).isInstanceOf(Welcome.class);
            for (int length = 0; length < welcome.length; length++) {
                byte[] cut = Arrays.copyOf(welcome, length);
                assertThatThrownBy(() -> MlsMessage.decode(cut)).isInstanceOf(MlsDecodeException.class);
            }
        }
    }

    @Test
    void everyTruncationOfEveryWireFormatIsRejected() {
        JsonNode set = set0();
        for (String field : List.of("mls_group_info", "public_message_application", "public_message_proposal",
                "public_message_commit", "private_message")) {
            byte[] whole = Vectors.hex(set.get(field));
            for (int length = 0; length < whole.length; length++) {
                byte[] cut = Arrays.copyOf(whole, length);
                int n = length;
                assertThatThrownBy(() -> MlsMessage.decode(cut)).as("%s truncated to %d", field, n)
                        .isInstanceOf(MlsDecodeException.class);
            }
        }
    }

    @Test
    void trailingGarbageIsRejectedForEveryWireFormat() {
        JsonNode set = set0();
        for (String field : List.of("mls_welcome", "mls_group_info", "mls_key_package", "public_message_application",
                "public_message_proposal", "public_message_commit", "private_message")) {
            byte[] whole = Vectors.hex(set.get(field));
            byte[] longer = Arrays.copyOf(whole, whole.length + 1);
            assertThatThrownBy(() -> MlsMessage.decode(longer)).as(field)
                    .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                        assertThat(e.reason()).endsWith(": 1 trailing bytes");
                        assertThat(e.offset()).isEqualTo(whole.length);
                    });
        }
        byte[] kp = Vectors.hex(set.get("mls_key_package"));
        byte[] bareLonger = Arrays.copyOfRange(kp, 4, kp.length + 3);
        assertThatThrownBy(() -> KeyPackage.decode(bareLonger))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> assertThat(e.reason()).isEqualTo("KeyPackage: 3 trailing bytes"));
    }

    @Test
    void nonMinimalVectorHeaderInsideAKeyPackageIsRejected() {
        byte[] framed = TestKeyPackages.valid("did:plc:alice");
        // init_key<V> of a suite-1 KeyPackage: header 0x20 (32) at offset 8; re-encode it as 0x40 0x20.
        assertThat(framed[8]).isEqualTo((byte) 0x20);
        byte[] stretched = new byte[framed.length + 1];
        System.arraycopy(framed, 0, stretched, 0, 8);
        stretched[8] = 0x40;
        stretched[9] = 0x20;
        System.arraycopy(framed, 9, stretched, 10, framed.length - 9);
        assertThatThrownBy(() -> MlsMessage.decode(stretched))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("key_package.init_key: non-minimal 2-byte vector length 32");
                    assertThat(e.offset()).isEqualTo(8);
                });
    }

    @Test
    void elevenPrefixInsideAWelcomeIsRejected() {
        byte[] welcome = TestMessages.welcome(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, List.of(new byte[32]));
        byte[] bad = welcome.clone();
        bad[6] = (byte) 0xC0; // secrets<V> header, after version, wire_format and cipher_suite
        assertThatThrownBy(() -> MlsMessage.decode(bad))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("welcome.secrets: invalid vector length prefix 0b11");
                    assertThat(e.offset()).isEqualTo(6);
                });
    }

    @Test
    void optionalByteTwoInACommitIsRejected() {
        byte[] groupId = {1, 2, 3, 4};
        byte[] commit = TestMessages.commit(groupId, 7, 0, List.of(), List.of(), false);
        // header 4, group_id 1+4, epoch 8, sender 1+4, authenticated_data 1, content_type 1, proposals 1 -> path flag.
        int pathFlag = 4 + 5 + 8 + 5 + 1 + 1 + 1;
        assertThat(commit[pathFlag]).isZero();
        byte[] bad = commit.clone();
        bad[pathFlag] = 2;
        assertThatThrownBy(() -> MlsMessage.decode(bad))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("commit.path: optional presence byte must be 0 or 1, got 2");
                    assertThat(e.offset()).isEqualTo(pathFlag);
                });
    }

    @Test
    void unknownVersionsWireFormatsAndEnumsAreRejected() {
        byte[] welcome = TestMessages.welcome(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, List.of(new byte[32]));
        byte[] v2 = welcome.clone();
        v2[1] = 2;
        assertThatThrownBy(() -> MlsMessage.decode(v2)).hasMessage("version: unsupported protocol version 2 at offset 0");
        for (int format : new int[] {0, 6, 0xF000}) {
            byte[] bad = welcome.clone();
            bad[2] = (byte) (format >>> 8);
            bad[3] = (byte) format;
            assertThatThrownBy(() -> MlsMessage.decode(bad)).hasMessage("wire_format: unknown value " + format + " at offset 2");
        }
        byte[] priv = TestMessages.privateMessage(new byte[] {9}, 1, ContentType.APPLICATION);
        priv[4 + 2 + 8] = 4; // content_type after group_id and epoch
        assertThatThrownBy(() -> MlsMessage.decode(priv)).hasMessageStartingWith("content_type: unknown value 4");
    }

    @Test
    void truncatedKeyPackagesReportTheErrorOfTheirOwnFraming() {
        byte[] framed = TestKeyPackages.valid("did:plc:alice");
        assertThatThrownBy(() -> KeyPackage.decode(Arrays.copyOf(framed, 40)))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("key_package.init_key: vector length 32 exceeds the 31 bytes left");
                    assertThat(e.offset()).isEqualTo(8);
                });
        byte[] bareSuite5 = TestKeyPackages.builder(CipherSuite.MLS_256_DHKEMP521_AES256GCM_SHA512_P521, "did:plc:alice")
                .framed(false).build();
        assertThatThrownBy(() -> KeyPackage.decode(Arrays.copyOf(bareSuite5, 100)))
                .isInstanceOfSatisfying(MlsDecodeException.class, e -> {
                    assertThat(e.reason()).isEqualTo("key_package.init_key: vector length 133 exceeds the 94 bytes left");
                    assertThat(e.offset()).isEqualTo(4);
                });
    }

    @Test
    void emptyInputIsRejected() {
        assertThatThrownBy(() -> MlsMessage.decode(new byte[0])).isInstanceOf(MlsDecodeException.class);
        assertThatThrownBy(() -> KeyPackage.decode(new byte[0])).isInstanceOf(MlsDecodeException.class);
    }

    /**
     * Every single-byte change of every message in one vector set either decodes to something that
     * re-encodes to the mutated bytes, or fails with an MlsDecodeException. Nothing else escapes.
     */
    @Test
    void byteMutationsYieldOnlyDecodeErrorsOrExactRoundTrips() {
        JsonNode set = set0();
        Random random = new Random(42);
        int decoded = 0;
        int rejected = 0;
        for (String field : List.of("mls_welcome", "mls_group_info", "mls_key_package", "public_message_application",
                "public_message_proposal", "public_message_commit", "private_message")) {
            byte[] whole = Vectors.hex(set.get(field));
            for (int i = 0; i < whole.length; i++) {
                for (int value : new int[] {0x00, 0xFF, 0x40, 0x80, 0xC0, random.nextInt(256)}) {
                    byte[] mutated = whole.clone();
                    mutated[i] = (byte) value;
                    try {
                        MlsMessage m = MlsMessage.decode(mutated);
                        assertThat(m.encode()).isEqualTo(mutated);
                        decoded++;
                    } catch (MlsDecodeException e) {
                        assertThat(e.offset()).isBetween(0, mutated.length);
                        rejected++;
                    }
                }
            }
        }
        assertThat(decoded).isPositive();
        assertThat(rejected).isPositive();
    }
}
