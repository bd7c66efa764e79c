package dev.mlsds.codec;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;

/**
 * An independent {@code VerifyWithLabel} on the JDK's own providers (no Bouncy Castle), used only to
 * cross-check {@link Signatures}. Raw MLS public keys become SubjectPublicKeyInfo by prefixing the
 * fixed DER header of the key type (RFC 8410 for Ed25519, RFC 5480 for the NIST curves).
 */
final class JdkSignatures {
    private JdkSignatures() {
    }

    static boolean verifyWithLabel(CipherSuite suite, byte[] publicKey, String label, byte[] content, byte[] signature) {
        byte[] message = Signatures.signContent(label, content, 0, content.length);
        String spkiPrefix;
        String keyAlgorithm;
        String signatureAlgorithm;
        switch (suite.signatureScheme()) {
            case ED25519 -> {
                spkiPrefix = "302a300506032b6570032100";
                keyAlgorithm = "Ed25519";
                signatureAlgorithm = "Ed25519";
            }
            case ED448 -> {
                spkiPrefix = "3043300506032b6571033a00";
                keyAlgorithm = "Ed448";
                signatureAlgorithm = "Ed448";
            }
            case ECDSA_SECP256R1_SHA256 -> {
                spkiPrefix = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
                keyAlgorithm = "EC";
                signatureAlgorithm = "SHA256withECDSA";
            }
            case ECDSA_SECP384R1_SHA384 -> {
                spkiPrefix = "3076301006072a8648ce3d020106052b81040022036200";
                keyAlgorithm = "EC";
                signatureAlgorithm = "SHA384withECDSA";
            }
            case ECDSA_SECP521R1_SHA512 -> {
                spkiPrefix = "30819b301006072a8648ce3d020106052b8104002303818600";
                keyAlgorithm = "EC";
                signatureAlgorithm = "SHA512withECDSA";
            }
            default -> throw new AssertionError(suite);
        }
        try {
            byte[] prefix = HexFormat.of().parseHex(spkiPrefix);
            byte[] spki = new byte[prefix.length + publicKey.length];
            System.arraycopy(prefix, 0, spki, 0, prefix.length);
            System.arraycopy(publicKey, 0, spki, prefix.length, publicKey.length);
            PublicKey key = KeyFactory.getInstance(keyAlgorithm).generatePublic(new X509EncodedKeySpec(spki));
            Signature verifier = Signature.getInstance(signatureAlgorithm);
            verifier.initVerify(key);
            verifier.update(message);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
