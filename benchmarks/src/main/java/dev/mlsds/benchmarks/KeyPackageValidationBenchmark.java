package dev.mlsds.benchmarks;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.KeyPackagePolicy;
import dev.mlsds.codec.KeyPackageValidator;
import dev.mlsds.codec.Signatures;
import dev.mlsds.codec.ValidatedKeyPackage;
import dev.mlsds.codec.testing.TestKeyPackages;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.StandardDSAEncoding;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Full KeyPackage validation (decode, every rule, both signatures, KeyPackageRef) next to its floor:
 * the two signature verifications alone, made with Bouncy Castle's primitives directly on messages
 * prepared in setup. The difference is what parsing, hashing and the rules cost. Single-threaded,
 * so the figures are per core.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class KeyPackageValidationBenchmark {
    private static final String IDENTITY = "did:plc:benchmark";

    @Param({"1", "2", "5"})
    public int suite;

    private byte[] raw;
    private KeyPackageValidator validator;

    // The floor's inputs: public key, the two SignContent messages and the two signatures.
    private CipherSuite cipherSuite;
    private byte[] publicKey;
    private byte[] leafMessage;
    private byte[] leafSignature;
    private byte[] keyPackageMessage;
    private byte[] keyPackageSignature;
    private ECDomainParameters domain;

    @Setup
    public void setUp() {
        cipherSuite = CipherSuite.byId(suite).orElseThrow();
        Instant now = Instant.now();
        raw = TestKeyPackages.builder(cipherSuite, IDENTITY)
                .lifetime(now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(30))).build();
        validator = new KeyPackageValidator(Clock.systemUTC(), KeyPackagePolicy.defaults());
        KeyPackage kp = KeyPackage.decode(raw);
        publicKey = kp.leafNode().signatureKey();
        leafMessage = Signatures.signContent("LeafNodeTBS", kp.leafNode().raw(), 0, kp.leafNode().tbsLength());
        leafSignature = kp.leafNode().signature();
        keyPackageMessage = Signatures.signContent("KeyPackageTBS", raw, kp.bodyOffset(), kp.tbsLength());
        keyPackageSignature = kp.signature();
        if (cipherSuite.signatureScheme() != CipherSuite.SignatureScheme.ED25519) {
            String curve = cipherSuite == CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256 ? "secp256r1" : "secp521r1";
            X9ECParameters p = CustomNamedCurves.getByName(curve);
            domain = new ECDomainParameters(p.getCurve(), p.getG(), p.getN(), p.getH());
        }
        if (!twoSignatureVerifies() || validate() == null) {
            throw new IllegalStateException("benchmark inputs do not verify");
        }
    }

    @Benchmark
    public ValidatedKeyPackage validate() {
        return validator.validate(raw, IDENTITY);
    }

    @Benchmark
    public boolean twoSignatureVerifies() {
        return verify(leafMessage, leafSignature) & verify(keyPackageMessage, keyPackageSignature);
    }

    private boolean verify(byte[] message, byte[] signature) {
        if (domain == null) {
            return Ed25519.verify(signature, 0, publicKey, 0, message, 0, message.length);
        }
        try {
            BigInteger[] rs = StandardDSAEncoding.INSTANCE.decode(domain.getN(), signature);
            Digest digest = cipherSuite.hash().newDigest();
            digest.update(message, 0, message.length);
            byte[] hash = new byte[digest.getDigestSize()];
            digest.doFinal(hash, 0);
            ECDSASigner signer = new ECDSASigner();
            signer.init(false, new ECPublicKeyParameters(domain.getCurve().decodePoint(publicKey), domain));
            return signer.verifySignature(hash, rs[0], rs[1]);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
