package dev.mlsds.codec;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.StandardDSAEncoding;
import org.bouncycastle.math.ec.ECPoint;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.bouncycastle.math.ec.rfc8032.Ed448;

/**
 * {@code VerifyWithLabel} of RFC 9420 §5.1.2 for every {@link CipherSuite}, on Bouncy Castle's
 * lightweight API ({@code rfc8032.Ed25519/Ed448}, {@code ECDSASigner}): the JCA providers cost about
 * seven times as much per verify, and KeyPackage upload is signature-bound.
 *
 * <p>The signed message is {@code SignContent = opaque label<V> || opaque content<V>} with the label
 * prefixed {@code "MLS 1.0 "}. Public keys are raw (EdDSA, RFC 8032) or uncompressed SEC1 points
 * {@code 04||X||Y} (ECDSA); ECDSA signatures are DER. Any malformed key or signature verifies as
 * {@code false}; this class never throws for bad input. Thread-safe and stateless.
 */
public final class Signatures {
    private static final String LABEL_PREFIX = "MLS 1.0 ";
    private static final byte[] NO_CONTEXT = new byte[0];

    private static final ECDomainParameters P256 = domain("secp256r1");
    private static final ECDomainParameters P384 = domain("secp384r1");
    private static final ECDomainParameters P521 = domain("secp521r1");

    private Signatures() {
    }

    private static ECDomainParameters domain(String name) {
        X9ECParameters p = CustomNamedCurves.getByName(name);
        return new ECDomainParameters(p.getCurve(), p.getG(), p.getN(), p.getH(), p.getSeed());
    }

    /** Verifies {@code signature} over the whole of {@code content}. */
    public static boolean verifyWithLabel(
            CipherSuite suite, byte[] publicKey, String label, byte[] content, byte[] signature) {
        return verifyWithLabel(suite, publicKey, label, content, 0, content.length, signature);
    }

    /**
     * Verifies {@code signature} over {@code content[off, off+len)}, so a caller can verify a TBS that
     * is a prefix of received bytes without copying it out.
     */
    public static boolean verifyWithLabel(
            CipherSuite suite, byte[] publicKey, String label, byte[] content, int off, int len, byte[] signature) {
        byte[] message = signContent(label, content, off, len);
        try {
            return switch (suite.signatureScheme()) {
                case ED25519 -> publicKey.length == Ed25519.PUBLIC_KEY_SIZE
                        && signature.length == Ed25519.SIGNATURE_SIZE
                        && Ed25519.verify(signature, 0, publicKey, 0, message, 0, message.length);
                case ED448 -> publicKey.length == Ed448.PUBLIC_KEY_SIZE
                        && signature.length == Ed448.SIGNATURE_SIZE
                        && Ed448.verify(signature, 0, publicKey, 0, NO_CONTEXT, message, 0, message.length);
                case ECDSA_SECP256R1_SHA256 -> verifyEcdsa(P256, suite.hash(), publicKey, message, signature);
                case ECDSA_SECP384R1_SHA384 -> verifyEcdsa(P384, suite.hash(), publicKey, message, signature);
                case ECDSA_SECP521R1_SHA512 -> verifyEcdsa(P521, suite.hash(), publicKey, message, signature);
            };
        } catch (RuntimeException | java.io.IOException e) {
            // Off-curve points and non-DER signatures surface as exceptions from Bouncy Castle.
            return false;
        }
    }

    private static boolean verifyEcdsa(
            ECDomainParameters domain, CipherSuite.Hash hash, byte[] publicKey, byte[] message, byte[] signature)
            throws java.io.IOException {
        int fieldBytes = (domain.getCurve().getFieldSize() + 7) / 8;
        // MLS fixes the uncompressed form; compressed or hybrid encodings are rejected.
        if (publicKey.length != 1 + 2 * fieldBytes || publicKey[0] != 0x04) {
            return false;
        }
        ECPoint q = domain.getCurve().decodePoint(publicKey);
        BigInteger[] rs = StandardDSAEncoding.INSTANCE.decode(domain.getN(), signature);
        Digest digest = hash.newDigest();
        digest.update(message, 0, message.length);
        byte[] h = new byte[digest.getDigestSize()];
        digest.doFinal(h, 0);
        ECDSASigner signer = new ECDSASigner();
        signer.init(false, new ECPublicKeyParameters(q, domain));
        return signer.verifySignature(h, rs[0], rs[1]);
    }

    /** The exact bytes signed: {@code varint || "MLS 1.0 " + label || varint || content[off, off+len)}. */
    public static byte[] signContent(String label, byte[] content, int off, int len) {
        byte[] fullLabel = (LABEL_PREFIX + label).getBytes(StandardCharsets.US_ASCII);
        // Sized exactly: this runs twice per KeyPackage upload.
        MlsWriter w = new MlsWriter(MlsWriter.varintSize(fullLabel.length) + fullLabel.length
                + MlsWriter.varintSize(len) + len);
        return w.opaque(fullLabel).varint(len).bytes(content, off, len).toByteArray();
    }
}
