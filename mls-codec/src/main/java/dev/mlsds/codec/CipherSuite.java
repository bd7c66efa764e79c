package dev.mlsds.codec;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;

/**
 * The MLS cipher suites a Delivery Service can validate KeyPackages for: the seven of RFC 9420
 * §17.1 plus two in deployed use (0x004D X-Wing, OpenMLS/XMTP; 0xF031 X25519Kyber768, Wire). A DS
 * never does HPKE, so a suite is fully described here by its hash (RefHash, KeyPackageRef) and its
 * signature scheme. Constant names are the IANA names, so {@link #name()} is the wire-level name.
 */
public enum CipherSuite {
    MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519(0x0001, Hash.SHA256, SignatureScheme.ED25519),
    MLS_128_DHKEMP256_AES128GCM_SHA256_P256(0x0002, Hash.SHA256, SignatureScheme.ECDSA_SECP256R1_SHA256),
    MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519(0x0003, Hash.SHA256, SignatureScheme.ED25519),
    MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448(0x0004, Hash.SHA512, SignatureScheme.ED448),
    MLS_256_DHKEMP521_AES256GCM_SHA512_P521(0x0005, Hash.SHA512, SignatureScheme.ECDSA_SECP521R1_SHA512),
    MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448(0x0006, Hash.SHA512, SignatureScheme.ED448),
    MLS_256_DHKEMP384_AES256GCM_SHA384_P384(0x0007, Hash.SHA384, SignatureScheme.ECDSA_SECP384R1_SHA384),
    MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519(0x004D, Hash.SHA256, SignatureScheme.ED25519),
    MLS_128_X25519Kyber768Draft00_AES128GCM_SHA256_Ed25519(0xF031, Hash.SHA256, SignatureScheme.ED25519);

    /** The hash function of a suite, used for RefHash and for ECDSA message digests. */
    public enum Hash {
        SHA256("SHA-256", 32),
        SHA384("SHA-384", 48),
        SHA512("SHA-512", 64);

        private final String jcaName;
        private final int length;

        Hash(String jcaName, int length) {
            this.jcaName = jcaName;
            this.length = length;
        }

        /** The JCA algorithm name, e.g. {@code "SHA-256"}. */
        public String jcaName() {
            return jcaName;
        }

        /** Output length in bytes. */
        public int length() {
            return length;
        }

        /** A fresh Bouncy Castle lightweight digest (cheaper to create than a JCA MessageDigest). */
        public Digest newDigest() {
            return switch (this) {
                case SHA256 -> new SHA256Digest();
                case SHA384 -> new SHA384Digest();
                case SHA512 -> new SHA512Digest();
            };
        }
    }

    /** Signature schemes of RFC 9420 §17.1 (TLS SignatureScheme names). */
    public enum SignatureScheme {
        ED25519("ed25519"),
        ED448("ed448"),
        ECDSA_SECP256R1_SHA256("ecdsa_secp256r1_sha256"),
        ECDSA_SECP384R1_SHA384("ecdsa_secp384r1_sha384"),
        ECDSA_SECP521R1_SHA512("ecdsa_secp521r1_sha512");

        private final String tlsName;

        SignatureScheme(String tlsName) {
            this.tlsName = tlsName;
        }

        public String tlsName() {
            return tlsName;
        }
    }

    private static final byte[] KEY_PACKAGE_REF_LABEL =
            "MLS 1.0 KeyPackage Reference".getBytes(StandardCharsets.US_ASCII);

    private final int id;
    private final Hash hash;
    private final SignatureScheme signatureScheme;

    CipherSuite(int id, Hash hash, SignatureScheme signatureScheme) {
        this.id = id;
        this.hash = hash;
        this.signatureScheme = signatureScheme;
    }

    /** The 16-bit IANA code point. */
    public int id() {
        return id;
    }

    public Hash hash() {
        return hash;
    }

    /** Length of a KeyPackageRef / ProposalRef for this suite: the hash output length. */
    public int refLength() {
        return hash.length();
    }

    public SignatureScheme signatureScheme() {
        return signatureScheme;
    }

    public static Optional<CipherSuite> byId(int id) {
        for (CipherSuite suite : values()) {
            if (suite.id == id) {
                return Optional.of(suite);
            }
        }
        return Optional.empty();
    }

    /** Looks a suite up by its exact IANA name, e.g. {@code MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519}. */
    public static Optional<CipherSuite> byName(String name) {
        for (CipherSuite suite : values()) {
            if (suite.name().equals(name)) {
                return Optional.of(suite);
            }
        }
        return Optional.empty();
    }

    /**
     * Parses what a client may send as a suite: the IANA name, a decimal id ({@code "1"}) or a hex id
     * ({@code "0x0001"}).
     */
    public static Optional<CipherSuite> parse(String text) {
        if (text == null || text.isEmpty()) {
            return Optional.empty();
        }
        Optional<CipherSuite> named = byName(text);
        if (named.isPresent()) {
            return named;
        }
        try {
            String lower = text.toLowerCase(Locale.ROOT);
            int value = lower.startsWith("0x") ? Integer.parseInt(lower.substring(2), 16) : Integer.parseInt(lower);
            return byId(value);
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * {@code RefHash(label, value) = Hash(RefHashInput{opaque label<V>; opaque value<V>})} over
     * {@code value[off, off+len)} (RFC 9420 §5.2). The label is used as given.
     */
    public byte[] refHash(byte[] label, byte[] value, int off, int len) {
        Digest digest = hash.newDigest();
        updateVector(digest, label, 0, label.length);
        updateVector(digest, value, off, len);
        byte[] out = new byte[digest.getDigestSize()];
        digest.doFinal(out, 0);
        return out;
    }

    /** {@code MakeKeyPackageRef}: RefHash with label {@code "MLS 1.0 KeyPackage Reference"} over bare KeyPackage bytes. */
    public byte[] keyPackageRef(byte[] keyPackage, int off, int len) {
        return refHash(KEY_PACKAGE_REF_LABEL, keyPackage, off, len);
    }

    /** Feeds {@code varint(len) || bytes} to a digest. */
    static void updateVector(Digest digest, byte[] bytes, int off, int len) {
        if (len > MlsWriter.MAX_VECTOR_LENGTH) {
            throw new IllegalArgumentException("vector length " + len + " cannot be encoded");
        }
        if (len < 64) {
            digest.update((byte) len);
        } else if (len < 16384) {
            digest.update((byte) (0x40 | (len >>> 8)));
            digest.update((byte) len);
        } else {
            digest.update((byte) (0x80 | (len >>> 24)));
            digest.update((byte) (len >>> 16));
            digest.update((byte) (len >>> 8));
            digest.update((byte) len);
        }
        digest.update(bytes, off, len);
    }
}
