package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.testing.SigningKey;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@code crypto-basics.json}: RefHash and SignWithLabel for each of the seven RFC suites, checked
 * against our Bouncy Castle path, the JDK providers, and the test-support signer.
 */
class CryptoBasicsVectorTest {

    @Test
    void refHashMatchesForEverySuite() {
        Set<Integer> suites = new TreeSet<>();
        for (JsonNode v : Vectors.load("crypto-basics.json")) {
            CipherSuite suite = CipherSuite.byId(v.get("cipher_suite").asInt()).orElseThrow();
            JsonNode ref = v.get("ref_hash");
            byte[] value = Vectors.hex(ref.get("value"));
            byte[] label = ref.get("label").asText().getBytes(StandardCharsets.US_ASCII);
            assertThat(suite.refHash(label, value, 0, value.length)).as("%s", suite).isEqualTo(Vectors.hex(ref.get("out")));
            suites.add(suite.id());
        }
        assertThat(suites).containsExactly(1, 2, 3, 4, 5, 6, 7);
    }

    @Test
    void signWithLabelVerifiesOnBouncyCastleAndJdkForEverySuite() {
        for (JsonNode v : Vectors.load("crypto-basics.json")) {
            CipherSuite suite = CipherSuite.byId(v.get("cipher_suite").asInt()).orElseThrow();
            JsonNode s = v.get("sign_with_label");
            byte[] pub = Vectors.hex(s.get("pub"));
            byte[] content = Vectors.hex(s.get("content"));
            byte[] signature = Vectors.hex(s.get("signature"));
            String label = s.get("label").asText();
            assertThat(Signatures.verifyWithLabel(suite, pub, label, content, signature)).as("BC %s", suite).isTrue();
            assertThat(JdkSignatures.verifyWithLabel(suite, pub, label, content, signature)).as("JDK %s", suite).isTrue();
            assertThat(Signatures.verifyWithLabel(suite, pub, label + "X", content, signature)).as("other label %s", suite).isFalse();
            for (int bit = 0; bit < signature.length * 8; bit += 7) {
                byte[] flipped = signature.clone();
                flipped[bit / 8] ^= (byte) (1 << (bit % 8));
                assertThat(Signatures.verifyWithLabel(suite, pub, label, content, flipped))
                        .as("%s signature bit %d flipped", suite, bit).isFalse();
            }
            byte[] otherContent = content.clone();
            otherContent[0] ^= 1;
            assertThat(Signatures.verifyWithLabel(suite, pub, label, otherContent, signature)).isFalse();
        }
    }

    @Test
    void testSupportSignerDerivesTheVectorKeysAndItsSignaturesVerify() {
        for (JsonNode v : Vectors.load("crypto-basics.json")) {
            CipherSuite suite = CipherSuite.byId(v.get("cipher_suite").asInt()).orElseThrow();
            JsonNode s = v.get("sign_with_label");
            SigningKey key = SigningKey.fromPrivateKey(suite, Vectors.hex(s.get("priv")));
            assertThat(key.publicKey()).as("%s public key", suite).isEqualTo(Vectors.hex(s.get("pub")));
            byte[] content = Vectors.hex(s.get("content"));
            String label = s.get("label").asText();
            byte[] ours = key.signWithLabel(label, content);
            if (suite.signatureScheme() == CipherSuite.SignatureScheme.ED25519
                    || suite.signatureScheme() == CipherSuite.SignatureScheme.ED448) {
                // EdDSA is deterministic: the same key and message must give the vector's exact signature.
                assertThat(ours).as("%s signature", suite).isEqualTo(Vectors.hex(s.get("signature")));
            }
            assertThat(Signatures.verifyWithLabel(suite, key.publicKey(), label, content, ours)).isTrue();
            assertThat(JdkSignatures.verifyWithLabel(suite, key.publicKey(), label, content, ours)).isTrue();
        }
    }

    @Test
    void malformedKeysAndSignaturesVerifyFalseInsteadOfThrowing() {
        CipherSuite p256 = CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
        SigningKey key = SigningKey.generate(p256);
        byte[] content = {1, 2, 3};
        byte[] sig = key.signWithLabel("L", content);
        byte[] compressed = key.publicKey().clone();
        compressed[0] = 0x02;
        byte[] offCurve = key.publicKey().clone();
        offCurve[offCurve.length - 1] ^= 1;
        assertThat(Signatures.verifyWithLabel(p256, key.publicKey(), "L", content, sig)).isTrue();
        assertThat(Signatures.verifyWithLabel(p256, compressed, "L", content, sig)).isFalse();
        assertThat(Signatures.verifyWithLabel(p256, offCurve, "L", content, sig)).isFalse();
        assertThat(Signatures.verifyWithLabel(p256, new byte[0], "L", content, sig)).isFalse();
        assertThat(Signatures.verifyWithLabel(p256, key.publicKey(), "L", content, new byte[] {0x30, 0})).isFalse();
        // Trailing bytes after the DER sequence are not DER.
        byte[] padded = java.util.Arrays.copyOf(sig, sig.length + 1);
        assertThat(Signatures.verifyWithLabel(p256, key.publicKey(), "L", content, padded)).isFalse();
        CipherSuite ed = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
        assertThat(Signatures.verifyWithLabel(ed, new byte[31], "L", content, new byte[64])).isFalse();
        assertThat(Signatures.verifyWithLabel(ed, new byte[32], "L", content, new byte[63])).isFalse();
        CipherSuite ed448 = CipherSuite.MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448;
        assertThat(Signatures.verifyWithLabel(ed448, new byte[56], "L", content, new byte[114])).isFalse();
    }
}
