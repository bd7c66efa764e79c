package dev.mlsds.codec;

import java.util.List;

/**
 * {@code LeafNode} (RFC 9420 §7.2) with the exact bytes it was decoded from, so the signature can be
 * checked over the received {@code LeafNodeTBS} rather than a re-serialisation.
 *
 * <p>{@code lifetime} is non-null iff {@code source == KEY_PACKAGE}; {@code parentHash} is non-null
 * iff {@code source == COMMIT}. Byte arrays are shared, not copied: do not modify them.
 */
public record LeafNode(
        byte[] encryptionKey,
        byte[] signatureKey,
        Credential credential,
        Capabilities capabilities,
        Source source,
        Lifetime lifetime,
        byte[] parentHash,
        List<Extension> extensions,
        byte[] signature,
        byte[] raw) {

    /** {@code LeafNodeSource}; 0 and unknown values are malformed. */
    public enum Source {
        KEY_PACKAGE(1),
        UPDATE(2),
        COMMIT(3);

        private final int value;

        Source(int value) {
            this.value = value;
        }

        public int value() {
            return value;
        }

        public String rfcName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public static LeafNode read(MlsReader r) {
        int start = r.position();
        byte[] encryptionKey = r.opaque("leaf_node.encryption_key");
        byte[] signatureKey = r.opaque("leaf_node.signature_key");
        Credential credential = Credential.read(r);
        Capabilities capabilities = Capabilities.read(r);
        int sourceAt = r.position();
        int sourceValue = r.u8("leaf_node_source");
        Source source;
        Lifetime lifetime = null;
        byte[] parentHash = null;
        switch (sourceValue) {
            case 1 -> {
                source = Source.KEY_PACKAGE;
                lifetime = Lifetime.read(r);
            }
            case 2 -> source = Source.UPDATE;
            case 3 -> {
                source = Source.COMMIT;
                parentHash = r.opaque("leaf_node.parent_hash");
            }
            default -> throw new MlsDecodeException("leaf_node_source: unknown value " + sourceValue, sourceAt);
        }
        List<Extension> extensions = Extension.readList(r, "leaf_node.extensions");
        byte[] signature = r.opaque("leaf_node.signature");
        return new LeafNode(encryptionKey, signatureKey, credential, capabilities, source, lifetime, parentHash,
                extensions, signature, r.bytesFrom(start));
    }

    /** Re-encodes from the fields (not from {@link #raw}). */
    public void write(MlsWriter w) {
        w.opaque(encryptionKey).opaque(signatureKey);
        credential.write(w);
        capabilities.write(w);
        w.u8(source.value);
        switch (source) {
            case KEY_PACKAGE -> lifetime.write(w);
            case UPDATE -> { }
            case COMMIT -> w.opaque(parentHash);
        }
        Extension.writeList(w, extensions);
        w.opaque(signature);
    }

    /**
     * Length of the prefix of {@link #raw} that is signed: everything before the signature vector.
     * For {@code source == KEY_PACKAGE} that prefix is the whole {@code LeafNodeTBS}; for update and
     * commit leaves the TBS also appends the group id and leaf index (RFC 9420 §7.2).
     */
    public int tbsLength() {
        return raw.length - MlsWriter.varintSize(signature.length) - signature.length;
    }

    /** The credential type code point. */
    public int credentialType() {
        return credential.type();
    }
}
