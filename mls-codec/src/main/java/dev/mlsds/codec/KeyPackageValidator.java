package dev.mlsds.codec;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Validates a KeyPackage as a Delivery Service must before storing it (RFC 9420 §10.1 and §7.3;
 * docs/api.md §3). Rules, each with the code {@link InvalidKeyPackageException#rule()}
 * reports, checked cheapest first so that forged uploads cost no signature work:
 *
 * <ol>
 *   <li>{@value #RULE_SIZE}: at most {@link KeyPackagePolicy#maxSize()} bytes;</li>
 *   <li>{@value #RULE_PARSE}: exactly one well-formed KeyPackage, framed or bare, no trailing bytes;</li>
 *   <li>{@value #RULE_VERSION}: KeyPackage version is mls10, which is also the only MLSMessage version
 *       the decoder accepts, so a framed KeyPackage's version equals its message's;</li>
 *   <li>{@value #RULE_CIPHER_SUITE}: a known suite the policy allows;</li>
 *   <li>{@value #RULE_LEAF_NODE_SOURCE}: {@code leaf_node_source == key_package};</li>
 *   <li>{@value #RULE_CREDENTIAL_TYPE}: a {@code basic} credential;</li>
 *   <li>{@value #RULE_IDENTITY}: its identity bytes are the UTF-8 encoding of the expected identity
 *       (skipped when that is null);</li>
 *   <li>{@value #RULE_DUPLICATE}: no capabilities list repeats an entry and no extension list (the
 *       LeafNode's, the KeyPackage's) repeats a type; with the codec's counted limits
 *       ({@link CodecLimits}) this makes every later rule linear in the input;</li>
 *   <li>{@value #RULE_CREDENTIAL_CAPABILITY}: the credential type is listed in {@code capabilities.credentials};</li>
 *   <li>{@value #RULE_EXTENSION_CAPABILITY}: every LeafNode extension that is neither a default one
 *       (types 1–5) nor GREASE is listed in {@code capabilities.extensions} (RFC 9420 §7.3; the
 *       KeyPackage's own extensions, such as last_resort, are not leaf capabilities);</li>
 *   <li>{@value #RULE_INIT_KEY}: {@code init_key != leaf_node.encryption_key};</li>
 *   <li>{@value #RULE_LIFETIME_INVALID}: {@code not_before <= not_after};</li>
 *   <li>{@value #RULE_EXPIRED}: {@code not_after} is after now;</li>
 *   <li>{@value #RULE_NOT_YET_VALID}: {@code not_before} is at most the skew after now;</li>
 *   <li>{@value #RULE_LIFETIME_TOO_LONG}: {@code not_after - now} is at most the maximum lifetime
 *       (docs/api.md §3 measures from now, not from {@code not_before});</li>
 *   <li>{@value #RULE_LEAF_NODE_SIGNATURE}: {@code LeafNodeTBS} verifies under {@code signature_key};</li>
 *   <li>{@value #RULE_KEY_PACKAGE_SIGNATURE}: {@code KeyPackageTBS} verifies under {@code signature_key}.</li>
 * </ol>
 *
 * <p>Signatures are verified over the received bytes, never a re-serialisation. Time comes only from
 * the injected clock. Immutable and thread-safe.
 */
public final class KeyPackageValidator {
    public static final String RULE_SIZE = "size";
    public static final String RULE_PARSE = "parse";
    public static final String RULE_VERSION = "version";
    public static final String RULE_CIPHER_SUITE = "cipher_suite";
    public static final String RULE_LEAF_NODE_SOURCE = "leaf_node_source";
    public static final String RULE_CREDENTIAL_TYPE = "credential_type";
    public static final String RULE_IDENTITY = "identity";
    public static final String RULE_DUPLICATE = "duplicate";
    public static final String RULE_CREDENTIAL_CAPABILITY = "credential_capability";
    public static final String RULE_EXTENSION_CAPABILITY = "extension_capability";
    public static final String RULE_INIT_KEY = "init_key";
    public static final String RULE_LIFETIME_INVALID = "lifetime_invalid";
    public static final String RULE_EXPIRED = "expired";
    public static final String RULE_NOT_YET_VALID = "not_yet_valid";
    public static final String RULE_LIFETIME_TOO_LONG = "lifetime_too_long";
    public static final String RULE_LEAF_NODE_SIGNATURE = "leaf_node_signature";
    public static final String RULE_KEY_PACKAGE_SIGNATURE = "key_package_signature";

    private final Clock clock;
    private final KeyPackagePolicy policy;

    public KeyPackageValidator(Clock clock, KeyPackagePolicy policy) {
        this.clock = clock;
        this.policy = policy;
    }

    public KeyPackagePolicy policy() {
        return policy;
    }

    /**
     * Decodes and validates one KeyPackage.
     *
     * @param raw              the upload: an MLSMessage(KeyPackage) or a bare KeyPackage
     * @param expectedIdentity the basic credential identity it must carry (the uploader's DID), or
     *                         null to skip that rule (for {@code mlsds inspect})
     * @throws InvalidKeyPackageException naming the first rule that failed
     */
    public ValidatedKeyPackage validate(byte[] raw, String expectedIdentity) {
        if (raw.length > policy.maxSize()) {
            throw fail(RULE_SIZE, raw.length + " bytes exceeds the limit of " + policy.maxSize());
        }
        KeyPackage kp;
        try {
            kp = KeyPackage.decode(raw);
        } catch (MlsDecodeException e) {
            throw fail(RULE_PARSE, e.getMessage());
        }
        return validate(kp, expectedIdentity);
    }

    /** Validates an already decoded KeyPackage (e.g. from an Add proposal); the size rule uses its raw length. */
    public ValidatedKeyPackage validate(KeyPackage kp, String expectedIdentity) {
        if (kp.raw().length > policy.maxSize()) {
            throw fail(RULE_SIZE, kp.raw().length + " bytes exceeds the limit of " + policy.maxSize());
        }
        if (kp.version() != KeyPackage.MLS10) {
            throw fail(RULE_VERSION, "version " + kp.version() + " is not mls10 (1)");
        }
        CipherSuite suite = kp.suite().orElseThrow(
                () -> fail(RULE_CIPHER_SUITE, "unknown cipher suite " + hex16(kp.cipherSuite())));
        if (!policy.allowedCipherSuites().contains(suite.id())) {
            throw fail(RULE_CIPHER_SUITE, "cipher suite " + suite.name() + " is not allowed here");
        }
        LeafNode leaf = kp.leafNode();
        if (leaf.source() != LeafNode.Source.KEY_PACKAGE) {
            throw fail(RULE_LEAF_NODE_SOURCE, "leaf_node_source is " + leaf.source().rfcName() + ", not key_package");
        }
        if (!(leaf.credential() instanceof Credential.Basic basic)) {
            throw fail(RULE_CREDENTIAL_TYPE, "credential type " + hex16(leaf.credentialType()) + " is not basic");
        }
        String identity = basic.identityString();
        // Compare bytes, not decoded text: distinct invalid UTF-8 sequences decode to the same U+FFFD.
        if (expectedIdentity != null
                && !Arrays.equals(basic.identity(), expectedIdentity.getBytes(StandardCharsets.UTF_8))) {
            throw fail(RULE_IDENTITY, "credential identity \"" + identity + "\" is not \"" + expectedIdentity + "\"");
        }
        Capabilities caps = leaf.capabilities();
        noDuplicate(caps.versions(), "capabilities.versions");
        noDuplicate(caps.cipherSuites(), "capabilities.cipher_suites");
        int[] extensionCaps = noDuplicate(caps.extensions(), "capabilities.extensions");
        noDuplicate(caps.proposals(), "capabilities.proposals");
        int[] credentialCaps = noDuplicate(caps.credentials(), "capabilities.credentials");
        noDuplicate(types(leaf.extensions()), "leaf_node.extensions");
        noDuplicate(types(kp.extensions()), "key_package.extensions");
        if (Arrays.binarySearch(credentialCaps, leaf.credentialType()) < 0) {
            throw fail(RULE_CREDENTIAL_CAPABILITY,
                    "credential type " + hex16(leaf.credentialType()) + " is not in capabilities.credentials");
        }
        for (Extension ext : leaf.extensions()) {
            int type = ext.type();
            if (!Extension.isDefault(type) && !Extension.isGrease(type)
                    && Arrays.binarySearch(extensionCaps, type) < 0) {
                throw fail(RULE_EXTENSION_CAPABILITY,
                        "leaf node extension " + hex16(type) + " is not in capabilities.extensions");
            }
        }
        if (Arrays.equals(kp.initKey(), leaf.encryptionKey())) {
            throw fail(RULE_INIT_KEY, "init_key equals leaf_node.encryption_key");
        }
        checkLifetime(leaf.lifetime());
        if (!Signatures.verifyWithLabel(suite, leaf.signatureKey(), "LeafNodeTBS", leaf.raw(), 0, leaf.tbsLength(),
                leaf.signature())) {
            throw fail(RULE_LEAF_NODE_SIGNATURE, "LeafNodeTBS signature does not verify under signature_key");
        }
        if (!Signatures.verifyWithLabel(suite, leaf.signatureKey(), "KeyPackageTBS", kp.raw(), kp.bodyOffset(),
                kp.tbsLength(), kp.signature())) {
            throw fail(RULE_KEY_PACKAGE_SIGNATURE, "KeyPackageTBS signature does not verify under signature_key");
        }
        Lifetime lifetime = leaf.lifetime();
        return new ValidatedKeyPackage(kp, suite, kp.ref(), identity, kp.isLastResort(),
                lifetime.notBefore(), lifetime.notAfter());
    }

    private void checkLifetime(Lifetime lifetime) {
        long now = clock.instant().getEpochSecond();
        long notBefore = lifetime.notBefore();
        long notAfter = lifetime.notAfter();
        if (Long.compareUnsigned(notBefore, notAfter) > 0) {
            throw fail(RULE_LIFETIME_INVALID, "not_before " + Long.toUnsignedString(notBefore)
                    + " is after not_after " + Long.toUnsignedString(notAfter));
        }
        if (Long.compareUnsigned(notAfter, now) <= 0) {
            throw fail(RULE_EXPIRED, "not_after " + Long.toUnsignedString(notAfter) + " is not after now (" + now + ")");
        }
        // now >= 0 and skew >= 0, so the sum only overflows into unsigned territory, which compareUnsigned handles.
        long latestNotBefore = now + policy.notBeforeSkew().toSeconds();
        if (Long.compareUnsigned(notBefore, latestNotBefore) > 0) {
            throw fail(RULE_NOT_YET_VALID, "not_before " + Long.toUnsignedString(notBefore)
                    + " is more than " + policy.notBeforeSkew().toSeconds() + " s after now (" + now + ")");
        }
        // notAfter > now, so the unsigned difference is exact.
        if (!policy.maxLifetime().equals(KeyPackagePolicy.UNBOUNDED_LIFETIME)
                && Long.compareUnsigned(notAfter - now, policy.maxLifetime().toSeconds()) > 0) {
            throw fail(RULE_LIFETIME_TOO_LONG, "not_after " + Long.toUnsignedString(notAfter) + " is more than "
                    + policy.maxLifetime().toSeconds() + " s after now (" + now + ")");
        }
    }

    /** The entries sorted, for binary search; fails {@value #RULE_DUPLICATE} if one repeats. */
    private static int[] noDuplicate(List<Integer> entries, String field) {
        int[] sorted = new int[entries.size()];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = entries.get(i);
        }
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw fail(RULE_DUPLICATE, field + " lists " + hex16(sorted[i]) + " more than once");
            }
        }
        return sorted;
    }

    private static List<Integer> types(List<Extension> extensions) {
        return extensions.stream().map(Extension::type).toList();
    }

    private static String hex16(int value) {
        return "0x" + HexFormat.of().toHexDigits((short) value);
    }

    private static InvalidKeyPackageException fail(String rule, String detail) {
        return new InvalidKeyPackageException(rule, detail);
    }
}
