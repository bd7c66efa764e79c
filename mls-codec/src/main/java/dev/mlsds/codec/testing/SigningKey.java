package dev.mlsds.codec.testing;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.Signatures;
import java.math.BigInteger;
import java.security.SecureRandom;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.HMacDSAKCalculator;
import org.bouncycastle.crypto.signers.StandardDSAEncoding;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.bouncycastle.math.ec.rfc8032.Ed448;
import org.bouncycastle.util.BigIntegers;

/**
 * Test support, not for production: a signature key pair of a cipher suite's scheme, in MLS's
 * encodings (raw EdDSA keys; ECDSA private scalar big-endian and public key {@code 04||X||Y}), that
 * signs with {@code SignWithLabel} (RFC 9420 §5.1.2). EdDSA is deterministic by definition and ECDSA
 * uses RFC 6979 nonces, so a given key and message always give the same signature.
 */
public record SigningKey(CipherSuite suite, byte[] privateKey, byte[] publicKey) {

    /** Generates a fresh key pair for the suite's signature scheme. */
    public static SigningKey generate(CipherSuite suite, SecureRandom random) {
        return switch (suite.signatureScheme()) {
            case ED25519 -> {
                byte[] sk = new byte[Ed25519.SECRET_KEY_SIZE];
                Ed25519.generatePrivateKey(random, sk);
                yield fromPrivateKey(suite, sk);
            }
            case ED448 -> {
                byte[] sk = new byte[Ed448.SECRET_KEY_SIZE];
                Ed448.generatePrivateKey(random, sk);
                yield fromPrivateKey(suite, sk);
            }
            default -> {
                ECDomainParameters domain = domain(suite);
                BigInteger d = BigIntegers.createRandomInRange(BigInteger.ONE, domain.getN().subtract(BigInteger.ONE), random);
                yield fromPrivateKey(suite, BigIntegers.asUnsignedByteArray(fieldBytes(domain), d));
            }
        };
    }

    public static SigningKey generate(CipherSuite suite) {
        return generate(suite, new SecureRandom());
    }

    /** Rebuilds a key pair from a private key in MLS's encoding (as the interop vectors give them). */
    public static SigningKey fromPrivateKey(CipherSuite suite, byte[] privateKey) {
        return switch (suite.signatureScheme()) {
            case ED25519 -> {
                byte[] pk = new byte[Ed25519.PUBLIC_KEY_SIZE];
                Ed25519.generatePublicKey(privateKey, 0, pk, 0);
                yield new SigningKey(suite, privateKey.clone(), pk);
            }
            case ED448 -> {
                byte[] pk = new byte[Ed448.PUBLIC_KEY_SIZE];
                Ed448.generatePublicKey(privateKey, 0, pk, 0);
                yield new SigningKey(suite, privateKey.clone(), pk);
            }
            default -> {
                ECDomainParameters domain = domain(suite);
                BigInteger d = new BigInteger(1, privateKey);
                yield new SigningKey(suite, privateKey.clone(), domain.getG().multiply(d).normalize().getEncoded(false));
            }
        };
    }

    /** {@code SignWithLabel(label, content)}: signs {@link Signatures#signContent}. */
    public byte[] signWithLabel(String label, byte[] content) {
        byte[] message = Signatures.signContent(label, content, 0, content.length);
        return switch (suite.signatureScheme()) {
            case ED25519 -> {
                byte[] sig = new byte[Ed25519.SIGNATURE_SIZE];
                Ed25519.sign(privateKey, 0, message, 0, message.length, sig, 0);
                yield sig;
            }
            case ED448 -> {
                byte[] sig = new byte[Ed448.SIGNATURE_SIZE];
                Ed448.sign(privateKey, 0, new byte[0], message, 0, message.length, sig, 0);
                yield sig;
            }
            default -> {
                ECDomainParameters domain = domain(suite);
                Digest digest = suite.hash().newDigest();
                digest.update(message, 0, message.length);
                byte[] h = new byte[digest.getDigestSize()];
                digest.doFinal(h, 0);
                ECDSASigner signer = new ECDSASigner(new HMacDSAKCalculator(suite.hash().newDigest()));
                signer.init(true, new ECPrivateKeyParameters(new BigInteger(1, privateKey), domain));
                BigInteger[] rs = signer.generateSignature(h);
                try {
                    yield StandardDSAEncoding.INSTANCE.encode(domain.getN(), rs[0], rs[1]);
                } catch (java.io.IOException e) {
                    throw new IllegalStateException("DER encoding of an ECDSA signature failed", e);
                }
            }
        };
    }

    private static ECDomainParameters domain(CipherSuite suite) {
        String curve = switch (suite.signatureScheme()) {
            case ECDSA_SECP256R1_SHA256 -> "secp256r1";
            case ECDSA_SECP384R1_SHA384 -> "secp384r1";
            case ECDSA_SECP521R1_SHA512 -> "secp521r1";
            default -> throw new IllegalArgumentException(suite + " does not use ECDSA");
        };
        X9ECParameters p = CustomNamedCurves.getByName(curve);
        return new ECDomainParameters(p.getCurve(), p.getG(), p.getN(), p.getH());
    }

    private static int fieldBytes(ECDomainParameters domain) {
        return (domain.getCurve().getFieldSize() + 7) / 8;
    }
}
