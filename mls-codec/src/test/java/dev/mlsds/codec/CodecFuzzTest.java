package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.codec.testing.TestMessages;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of every decoder (Jazzer). The property: any byte string either decodes
 * into something that re-encodes to exactly those bytes (the codec is strict, so there is one
 * encoding per value), or is rejected with an {@link MlsDecodeException} whose offset lies in the
 * input; KeyPackage validation ends in a result or an {@link InvalidKeyPackageException}. Any other
 * exception is a bug.
 *
 * <p>The Maven build runs this class alone in its own JVM with {@code JAZZER_FUZZ=1} for a few
 * seconds, so the codec classes are instrumented from the start. Seeds are well-formed messages of
 * every wire format made by the test-support builders.
 */
class CodecFuzzTest {
    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
    private static final KeyPackageValidator VALIDATOR =
            new KeyPackageValidator(Clock.fixed(NOW, ZoneOffset.UTC), KeyPackagePolicy.defaults());

    static Stream<Arguments> seeds() {
        byte[] group = {1, 2, 3, 4, 5, 6, 7, 8};
        byte[] kp = TestKeyPackages.builder(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, "did:plc:seed")
                .lifetime(NOW.minusSeconds(60), NOW.plusSeconds(86400)).lastResort(true).build();
        byte[] p256 = TestKeyPackages.builder(CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256, "did:plc:seed")
                .lifetime(NOW.minusSeconds(60), NOW.plusSeconds(86400)).framed(false).build();
        return Stream.of(
                kp,
                Arrays.copyOfRange(kp, 4, kp.length),
                p256,
                TestMessages.welcome(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
                        List.of(KeyPackage.decode(kp).ref(), new byte[32])),
                TestMessages.commit(group, 5, 1, List.of(kp), List.of(2L), true),
                TestMessages.removeProposal(group, 5, new Sender(Sender.Type.EXTERNAL, 0), 3),
                TestMessages.privateMessage(group, 5, ContentType.APPLICATION),
                TestMessages.groupInfo(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, group, 5, true))
                .map(bytes -> Arguments.of((Object) bytes));
    }

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void decodersAcceptOrRejectCleanly(byte[] input) {
        check(input);
    }

    static void check(byte[] input) {
        try {
            MlsMessage message = MlsMessage.decode(input);
            assertThat(message.encode()).isEqualTo(input);
        } catch (MlsDecodeException e) {
            assertThat(e.offset()).isBetween(0, input.length);
        }
        try {
            KeyPackage kp = KeyPackage.decode(input);
            assertThat(kp.encode()).isEqualTo(input);
            try {
                VALIDATOR.validate(kp, null);
            } catch (InvalidKeyPackageException e) {
                assertThat(e.rule()).isNotEmpty();
            }
        } catch (MlsDecodeException e) {
            assertThat(e.offset()).isBetween(0, input.length);
        }
        try {
            assertThat(Commit.decode(input).encode()).isEqualTo(input);
        } catch (MlsDecodeException e) {
            assertThat(e.offset()).isBetween(0, input.length);
        }
        try {
            assertThat(RatchetTree.decode(input).encode()).isEqualTo(input);
        } catch (MlsDecodeException e) {
            assertThat(e.offset()).isBetween(0, input.length);
        }
        try {
            assertThat(GroupSecrets.decode(input).encode()).isEqualTo(input);
        } catch (MlsDecodeException e) {
            assertThat(e.offset()).isBetween(0, input.length);
        }
    }
}
