package dev.mlsds.codec.testing;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.Credential;
import dev.mlsds.codec.Extension;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.WireFormat;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Test support, not for production: builds correctly signed KeyPackages for a suite, identity,
 * lifetime, last-resort flag and signature key, so tests (here and in the server) and benchmarks can
 * make valid and deliberately invalid uploads without an MLS client.
 *
 * <p>The HPKE {@code init_key} and {@code encryption_key} are random bytes of the suite's KEM public
 * key length: a Delivery Service never uses them, so they need not be valid points. Capabilities list
 * version 1, the suite, the basic credential and the extensions in use.
 *
 * <pre>{@code
 * byte[] kp = TestKeyPackages.builder(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, "did:plc:alice")
 *         .lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(30)))
 *         .lastResort(true)
 *         .build();
 * }</pre>
 */
public final class TestKeyPackages {
    private TestKeyPackages() {
    }

    public static Builder builder(CipherSuite suite, String identity) {
        return new Builder(suite, identity);
    }

    /** A valid framed suite-1 KeyPackage for {@code identity}, valid from an hour ago for 30 days. */
    public static byte[] valid(String identity) {
        return builder(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, identity).build();
    }

    /** Length of the suite's HPKE KEM public key (RFC 9180 {@code Npk}; X-Wing and Kyber hybrids as deployed). */
    public static int kemPublicKeyLength(CipherSuite suite) {
        return switch (suite) {
            case MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 -> 32;
            case MLS_128_DHKEMP256_AES128GCM_SHA256_P256 -> 65;
            case MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448, MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448 -> 56;
            case MLS_256_DHKEMP521_AES256GCM_SHA512_P521 -> 133;
            case MLS_256_DHKEMP384_AES256GCM_SHA384_P384 -> 97;
            case MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519 -> 1216;
            case MLS_128_X25519Kyber768Draft00_AES128GCM_SHA256_Ed25519 -> 1216;
        };
    }

    private static boolean kemIsNistCurve(CipherSuite suite) {
        return suite == CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256
                || suite == CipherSuite.MLS_256_DHKEMP521_AES256GCM_SHA512_P521
                || suite == CipherSuite.MLS_256_DHKEMP384_AES256GCM_SHA384_P384;
    }

    /** Fluent builder; every setter returns this. Not thread-safe. */
    public static final class Builder {
        private final CipherSuite suite;
        private byte[] identity;
        private SecureRandom random = new SecureRandom();
        private SigningKey signingKey;
        private long notBefore;
        private long notAfter;
        private boolean lastResort;
        private boolean framed = true;
        private int leafNodeSource = 1;
        private int credentialType = Credential.BASIC;
        private byte[] initKey;
        private byte[] encryptionKey;
        private final List<Extension> leafExtensions = new ArrayList<>();
        private final List<Integer> capabilityExtensions = new ArrayList<>();
        private boolean listCredentialInCapabilities = true;

        private Builder(CipherSuite suite, String identity) {
            this.suite = suite;
            this.identity = identity.getBytes(StandardCharsets.UTF_8);
            Instant now = Instant.now();
            lifetime(now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(30)));
        }

        public Builder random(SecureRandom value) {
            this.random = value;
            return this;
        }

        /** The signature key; generated from {@link #random} if not set. */
        public Builder signingKey(SigningKey value) {
            if (value.suite().signatureScheme() != suite.signatureScheme()) {
                throw new IllegalArgumentException("a " + value.suite() + " key cannot sign for " + suite);
            }
            this.signingKey = value;
            return this;
        }

        public Builder lifetime(Instant from, Instant to) {
            return lifetimeSeconds(from.getEpochSecond(), to.getEpochSecond());
        }

        /** Raw unsigned seconds, for edge cases such as 0 and 2^64-1 ({@code -1L}). */
        public Builder lifetimeSeconds(long from, long to) {
            this.notBefore = from;
            this.notAfter = to;
            return this;
        }

        /** Adds the {@code last_resort} KeyPackage extension (0x000A) and lists it in the capabilities. */
        public Builder lastResort(boolean value) {
            this.lastResort = value;
            return this;
        }

        /** Framed as an MLSMessage (default) or a bare KeyPackage. */
        public Builder framed(boolean value) {
            this.framed = value;
            return this;
        }

        /** Overrides the identity bytes, e.g. with invalid UTF-8. */
        public Builder identityBytes(byte[] value) {
            this.identity = value.clone();
            return this;
        }

        /**
         * Adds a LeafNode extension; it is listed in the capabilities unless {@code listInCapabilities}
         * is false (which makes the KeyPackage invalid for non-default, non-GREASE types).
         */
        public Builder leafExtension(int type, byte[] data, boolean listInCapabilities) {
            leafExtensions.add(new Extension(type, data.clone()));
            if (listInCapabilities) {
                capabilityExtensions.add(type);
            }
            return this;
        }

        /** Lists {@code type} in {@code capabilities.extensions} (again, if already listed: a negative test). */
        public Builder capabilityExtension(int type) {
            capabilityExtensions.add(type);
            return this;
        }

        /** For negative tests: a LeafNode source other than key_package (1); 2 = update, 3 = commit. */
        public Builder leafNodeSource(int value) {
            this.leafNodeSource = value;
            return this;
        }

        /** For negative tests: leave the credential type out of {@code capabilities.credentials}. */
        public Builder omitCredentialCapability() {
            this.listCredentialInCapabilities = false;
            return this;
        }

        /** For negative tests: an x509 credential holding {@code identity} as its only "certificate". */
        public Builder x509Credential() {
            this.credentialType = Credential.X509_TYPE;
            return this;
        }

        /** Fixes the HPKE init key (e.g. equal to the encryption key, which is invalid). */
        public Builder initKey(byte[] value) {
            this.initKey = value.clone();
            return this;
        }

        /** Fixes the leaf's HPKE encryption key. */
        public Builder encryptionKey(byte[] value) {
            this.encryptionKey = value.clone();
            return this;
        }

        /** The signature key in use, generating it now if none was set. */
        public SigningKey signingKey() {
            if (signingKey == null) {
                signingKey = SigningKey.generate(suite, random);
            }
            return signingKey;
        }

        /** The encoded KeyPackage: an MLSMessage unless {@link #framed(boolean)} was set false. */
        public byte[] build() {
            SigningKey key = signingKey();
            byte[] leafTbs = leafNodeTbs(key);
            byte[] leafSignature = key.signWithLabel("LeafNodeTBS", leafTbs);
            MlsWriter tbs = new MlsWriter()
                    .u16(KeyPackage.MLS10).u16(suite.id())
                    .opaque(initKey != null ? initKey : randomKey())
                    .bytes(leafTbs).opaque(leafSignature);
            tbs.vector(w -> {
                if (lastResort) {
                    new Extension(Extension.LAST_RESORT, new byte[0]).write(w);
                }
            });
            byte[] keyPackageTbs = tbs.toByteArray();
            byte[] signature = key.signWithLabel("KeyPackageTBS", keyPackageTbs);
            MlsWriter out = new MlsWriter();
            if (framed) {
                out.u16(KeyPackage.MLS10).u16(WireFormat.MLS_KEY_PACKAGE.value());
            }
            return out.bytes(keyPackageTbs).opaque(signature).toByteArray();
        }

        /** {@link #build()}, decoded. */
        public KeyPackage buildDecoded() {
            return KeyPackage.decode(build());
        }

        private byte[] leafNodeTbs(SigningKey key) {
            MlsWriter w = new MlsWriter()
                    .opaque(encryptionKey != null ? encryptionKey : randomKey())
                    .opaque(key.publicKey());
            w.u16(credentialType);
            if (credentialType == Credential.BASIC) {
                w.opaque(identity);
            } else {
                w.vector(certs -> certs.opaque(identity));
            }
            List<Integer> extensions = new ArrayList<>(capabilityExtensions);
            if (lastResort) {
                extensions.add(Extension.LAST_RESORT);
            }
            w.u16List(List.of(KeyPackage.MLS10))
                    .u16List(List.of(suite.id()))
                    .u16List(extensions)
                    .u16List(List.of())
                    .u16List(listCredentialInCapabilities ? List.of(credentialType) : List.of());
            w.u8(leafNodeSource);
            switch (leafNodeSource) {
                case 1 -> w.u64(notBefore).u64(notAfter);
                case 3 -> w.opaque(new byte[suite.hash().length()]);
                default -> { }
            }
            w.list(leafExtensions, Extension::write);
            return w.toByteArray();
        }

        private byte[] randomKey() {
            byte[] key = new byte[kemPublicKeyLength(suite)];
            random.nextBytes(key);
            if (kemIsNistCurve(suite)) {
                key[0] = 0x04; // looks like an uncompressed point, as a real DHKEM(P-*) key would
            }
            return key;
        }
    }
}
