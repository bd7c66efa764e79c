package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every rule of {@link KeyPackageValidator}, on KeyPackages built and signed by {@link TestKeyPackages}. */
class KeyPackageValidatorTest {
    private static final String ALICE = "did:plc:alice";
    private static final Instant NOW = Instant.parse("2026-05-01T12:00:00Z");
    private static final CipherSuite SUITE_1 = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
    private static final CipherSuite SUITE_5 = CipherSuite.MLS_256_DHKEMP521_AES256GCM_SHA512_P521;

    private final KeyPackageValidator validator =
            new KeyPackageValidator(Clock.fixed(NOW, ZoneOffset.UTC), KeyPackagePolicy.defaults());

    private static TestKeyPackages.Builder kp(CipherSuite suite) {
        return TestKeyPackages.builder(suite, ALICE).lifetime(NOW.minusSeconds(60), NOW.plus(Duration.ofDays(30)));
    }

    private static TestKeyPackages.Builder kp() {
        return kp(SUITE_1);
    }

    private void assertRule(byte[] raw, String expectedIdentity, String rule) {
        assertThatThrownBy(() -> validator.validate(raw, expectedIdentity))
                .isInstanceOfSatisfying(InvalidKeyPackageException.class, e -> {
                    assertThat(e.rule()).isEqualTo(rule);
                    assertThat(e.getMessage()).startsWith(rule + ": ");
                });
    }

    private void assertRule(byte[] raw, String rule) {
        assertRule(raw, ALICE, rule);
    }

    @ParameterizedTest
    @EnumSource(CipherSuite.class)
    void aFreshKeyPackageValidatesInEverySuiteFramedAndBare(CipherSuite suite) {
        SigningKey key = SigningKey.generate(suite);
        byte[] framed = kp(suite).signingKey(key).lastResort(true).build();
        ValidatedKeyPackage valid = validator.validate(framed, ALICE);
        assertThat(valid.cipherSuite()).isEqualTo(suite);
        assertThat(valid.identity()).isEqualTo(ALICE);
        assertThat(valid.lastResort()).isTrue();
        assertThat(valid.notBefore()).isEqualTo(NOW.getEpochSecond() - 60);
        assertThat(valid.notAfter()).isEqualTo(NOW.plus(Duration.ofDays(30)).getEpochSecond());
        assertThat(valid.keyPackage().framed()).isTrue();
        byte[] bare = Arrays.copyOfRange(framed, 4, framed.length);
        assertThat(suite.keyPackageRef(bare, 0, bare.length)).isEqualTo(valid.ref());
        ValidatedKeyPackage bareValid = validator.validate(bare, ALICE);
        assertThat(bareValid.keyPackage().framed()).isFalse();
        assertThat(bareValid.ref()).as("the ref hashes the bare KeyPackage in both framings").isEqualTo(valid.ref());
        assertThat(valid.keyPackage().encode()).isEqualTo(framed);
        assertThat(bareValid.keyPackage().encode()).isEqualTo(bare);
        assertThat(valid.deviceId()).hasSize(32).isEqualTo(bareValid.deviceId());
    }

    @Test
    void aBareSuite5KeyPackageIsNotMistakenForAnMlsMessage() {
        // A bare suite-5 KeyPackage starts 0001 0005, the same four bytes as an MLSMessage(KeyPackage).
        byte[] bare = kp(SUITE_5).framed(false).build();
        assertThat(Arrays.copyOf(bare, 4)).containsExactly(0, 1, 0, 5);
        assertThatThrownBy(() -> MlsMessage.decode(bare)).isInstanceOf(MlsDecodeException.class);
        KeyPackage decoded = KeyPackage.decode(bare);
        assertThat(decoded.framed()).isFalse();
        assertThat(decoded.cipherSuite()).isEqualTo(5);
        assertThat(validator.validate(bare, ALICE).ref()).isEqualTo(SUITE_5.keyPackageRef(bare, 0, bare.length));

        byte[] framed = kp(SUITE_5).build();
        KeyPackage framedDecoded = KeyPackage.decode(framed);
        assertThat(framedDecoded.framed()).isTrue();
        assertThat(framedDecoded.cipherSuite()).isEqualTo(5);
        assertThatThrownBy(() -> KeyPackage.decodeBare(framed)).isInstanceOf(MlsDecodeException.class);
    }

    @Test
    void keyPackageDecodeRejectsOtherWireFormats() {
        byte[] welcome = dev.mlsds.codec.testing.TestMessages.welcome(SUITE_1, java.util.List.of(new byte[32]));
        assertThatThrownBy(() -> KeyPackage.decode(welcome)).isInstanceOf(MlsDecodeException.class);
    }

    @Test
    void size() {
        byte[] raw = kp().build();
        KeyPackageValidator small = new KeyPackageValidator(Clock.fixed(NOW, ZoneOffset.UTC),
                KeyPackagePolicy.defaults().withMaxSize(raw.length - 1));
        assertThatThrownBy(() -> small.validate(raw, ALICE))
                .isInstanceOfSatisfying(InvalidKeyPackageException.class, e -> assertThat(e.rule()).isEqualTo("size"));
        assertThat(new KeyPackageValidator(Clock.fixed(NOW, ZoneOffset.UTC),
                KeyPackagePolicy.defaults().withMaxSize(raw.length)).validate(raw, ALICE)).isNotNull();
    }

    @Test
    void defaultSizeLimitIs64KiB() {
        byte[] big = kp().leafExtension(0x7777, new byte[70_000], true).build();
        assertRule(big, "size");
    }

    @Test
    void parseWithTrailingBytes() {
        byte[] raw = kp().build();
        byte[] trailing = Arrays.copyOf(raw, raw.length + 1);
        assertRule(trailing, "parse");
        assertThatThrownBy(() -> validator.validate(trailing, ALICE)).hasMessageContaining("trailing");
    }

    @Test
    void version() {
        byte[] raw = kp().build();
        raw[5] = 2; // KeyPackage.version, after the 4-byte MLSMessage header
        assertRule(raw, "version");
    }

    @Test
    void unknownCipherSuite() {
        byte[] raw = kp().build();
        raw[7] = 0x66; // KeyPackage.cipher_suite low byte: 0x0066 is unassigned
        assertRule(raw, "cipher_suite");
    }

    @Test
    void cipherSuiteNotAllowedByPolicy() {
        KeyPackageValidator only1 = new KeyPackageValidator(Clock.fixed(NOW, ZoneOffset.UTC),
                KeyPackagePolicy.defaults().withAllowedCipherSuites(Set.of(1)));
        byte[] suite2 = kp(CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256).build();
        assertThatThrownBy(() -> only1.validate(suite2, ALICE))
                .isInstanceOfSatisfying(InvalidKeyPackageException.class, e -> {
                    assertThat(e.rule()).isEqualTo("cipher_suite");
                    assertThat(e.getMessage()).contains("MLS_128_DHKEMP256_AES128GCM_SHA256_P256");
                });
        assertThat(only1.validate(kp().build(), ALICE)).isNotNull();
    }

    @Test
    void policyRefusesSuitesItCannotValidate() {
        assertThatThrownBy(() -> KeyPackagePolicy.defaults().withAllowedCipherSuites(Set.of(1, 0x66)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void leafNodeSourceMustBeKeyPackage() {
        assertRule(kp().leafNodeSource(2).build(), "leaf_node_source");
        assertRule(kp().leafNodeSource(3).build(), "leaf_node_source");
    }

    @Test
    void credentialMustBeBasic() {
        assertRule(kp().x509Credential().build(), "credential_type");
    }

    @Test
    void identityMustMatchTheCaller() {
        byte[] raw = kp().build();
        assertRule(raw, "did:plc:mallory", "identity");
        assertThat(validator.validate(raw, null).identity()).as("null skips the identity rule").isEqualTo(ALICE);
        // Invalid UTF-8 decodes to U+FFFD, but the comparison is on bytes, so it matches nothing.
        byte[] notUtf8 = kp().identityBytes(new byte[] {(byte) 0xC3, 0x28}).build();
        assertThat(KeyPackage.decode(notUtf8).identityString()).isEqualTo("\uFFFD(");
        assertRule(notUtf8, "\uFFFD(", "identity");
    }

    @Test
    void identityIsCompareOnUtf8() {
        String did = "did:web:exämple.com";
        byte[] raw = TestKeyPackages.builder(SUITE_1, did).lifetime(NOW.minusSeconds(1), NOW.plusSeconds(3600)).build();
        assertThat(validator.validate(raw, did).identity()).isEqualTo(did);
        assertThat(KeyPackage.decode(raw).identityString()).isEqualTo(did);
        assertThat(((Credential.Basic) KeyPackage.decode(raw).leafNode().credential()).identity())
                .isEqualTo(did.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void credentialTypeMustBeInCapabilities() {
        assertRule(kp().omitCredentialCapability().build(), "credential_capability");
    }

    @Test
    void nonDefaultLeafExtensionsMustBeInCapabilities() {
        assertRule(kp().leafExtension(0x1234, new byte[] {1}, false).build(), "extension_capability");
        assertThat(validator.validate(kp().leafExtension(0x1234, new byte[] {1}, true).build(), ALICE)).isNotNull();
        // Default extension types must not be listed (RFC 9420 §7.2) and GREASE values are ignored.
        assertThat(validator.validate(kp().leafExtension(Extension.APPLICATION_ID, new byte[] {1}, false).build(), ALICE))
                .isNotNull();
        assertThat(validator.validate(kp().leafExtension(0x3A3A, new byte[0], false).build(), ALICE)).isNotNull();
    }

    @Test
    void initKeyMustDifferFromEncryptionKey() {
        byte[] key = new byte[32];
        Arrays.fill(key, (byte) 7);
        assertRule(kp().initKey(key).encryptionKey(key).build(), "init_key");
        byte[] other = key.clone();
        other[31] = 8;
        assertThat(validator.validate(kp().initKey(key).encryptionKey(other).build(), ALICE)).isNotNull();
    }

    @Test
    void lifetimeRules() {
        long now = NOW.getEpochSecond();
        assertRule(kp().lifetimeSeconds(now - 100, now).build(), "expired");
        assertThat(validator.validate(kp().lifetimeSeconds(now - 100, now + 1).build(), ALICE)).isNotNull();

        assertRule(kp().lifetimeSeconds(now + 301, now + 3600).build(), "not_yet_valid");
        assertThat(validator.validate(kp().lifetimeSeconds(now + 300, now + 3600).build(), ALICE)).isNotNull();

        long ninetyDays = Duration.ofDays(90).toSeconds();
        assertRule(kp().lifetimeSeconds(now, now + ninetyDays + 1).build(), "lifetime_too_long");
        assertThat(validator.validate(kp().lifetimeSeconds(now, now + ninetyDays).build(), ALICE)).isNotNull();

        assertRule(kp().lifetimeSeconds(now + 10, now + 5).build(), "lifetime_invalid");
    }

    @Test
    void lifetimeFieldsAreUnsigned() {
        // not_after = 2^64-1 is "forever": past any maximum unless the policy is unbounded.
        byte[] forever = kp().lifetimeSeconds(0, -1L).build();
        assertRule(forever, "lifetime_too_long");
        KeyPackageValidator unbounded = new KeyPackageValidator(Clock.fixed(NOW, ZoneOffset.UTC),
                KeyPackagePolicy.defaults().withMaxLifetime(KeyPackagePolicy.UNBOUNDED_LIFETIME));
        assertThat(unbounded.validate(forever, ALICE).notAfter()).isEqualTo(-1L);
        // not_before with the top bit set is far in the future, not in the past.
        assertRule(kp().lifetimeSeconds(Long.MIN_VALUE, -1L).build(), "not_yet_valid");
    }

    @Test
    void lastResortFlagFollowsTheExtension() {
        assertThat(validator.validate(kp().build(), ALICE).lastResort()).isFalse();
        ValidatedKeyPackage lastResort = validator.validate(kp().lastResort(true).build(), ALICE);
        assertThat(lastResort.lastResort()).isTrue();
        assertThat(lastResort.keyPackage().isLastResort()).isTrue();
    }

    @Test
    void flippingAnyBitOfEitherSignatureIsCaughtByItsRule() {
        TestKeyPackages.Builder builder = kp();
        byte[] raw = builder.build();
        KeyPackage kp = KeyPackage.decode(raw);
        int kpSigAt = raw.length - kp.signature().length;
        for (int bit = 0; bit < kp.signature().length * 8; bit++) {
            byte[] bad = raw.clone();
            bad[kpSigAt + bit / 8] ^= (byte) (1 << (bit % 8));
            assertRule(bad, "key_package_signature");
        }
        int leafSigAt = indexOf(raw, kp.leafNode().signature());
        for (int bit = 0; bit < kp.leafNode().signature().length * 8; bit++) {
            byte[] bad = raw.clone();
            bad[leafSigAt + bit / 8] ^= (byte) (1 << (bit % 8));
            assertRule(bad, "leaf_node_signature");
        }
    }

    @ParameterizedTest
    @EnumSource(CipherSuite.class)
    void aFlippedSignatureBitFailsInEverySuite(CipherSuite suite) {
        byte[] raw = kp(suite).build();
        KeyPackage kp = KeyPackage.decode(raw);
        byte[] badKp = raw.clone();
        badKp[raw.length - kp.signature().length / 2] ^= 0x10;
        assertRule(badKp, "key_package_signature");
        byte[] badLeaf = raw.clone();
        badLeaf[indexOf(raw, kp.leafNode().signature()) + kp.leafNode().signature().length / 2] ^= 0x10;
        assertRule(badLeaf, "leaf_node_signature");
    }

    @Test
    void aKeyPackageSignedByAnotherKeyFails() {
        SigningKey mallory = SigningKey.generate(SUITE_1);
        byte[] alice = kp().build();
        byte[] byMallory = kp().signingKey(mallory).build();
        // Splice Mallory's signatures over Alice's content: both TBS differ, so the leaf check fails first.
        KeyPackage a = KeyPackage.decode(alice);
        KeyPackage m = KeyPackage.decode(byMallory);
        byte[] spliced = alice.clone();
        System.arraycopy(m.signature(), 0, spliced, spliced.length - a.signature().length, a.signature().length);
        assertRule(spliced, "key_package_signature");
    }

    @Test
    void signaturesAreCheckedOverTheReceivedBytes() {
        // The ref and TBS slices come from raw: decoding must not change what is hashed.
        byte[] raw = kp().build();
        KeyPackage kp = KeyPackage.decode(raw);
        // A 64-byte Ed25519 signature needs a 2-byte length header (64 > 63).
        assertThat(kp.tbsLength()).isEqualTo(raw.length - 4 - 2 - kp.signature().length);
        assertThat(kp.bareBytes()).isEqualTo(Arrays.copyOfRange(raw, 4, raw.length));
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
