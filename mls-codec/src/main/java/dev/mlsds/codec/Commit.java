package dev.mlsds.codec;

import java.util.List;

/**
 * {@code Commit} (RFC 9420 §12.4) and its {@code UpdatePath}. {@code path} is null when absent.
 * Byte arrays are shared, not copied: do not modify them.
 */
public record Commit(List<ProposalOrRef> proposals, UpdatePath path) {

    public boolean hasPath() {
        return path != null;
    }

    /** {@code HPKECiphertext} (RFC 9420 §7.6). */
    public record HpkeCiphertext(byte[] kemOutput, byte[] ciphertext) {
        static HpkeCiphertext read(MlsReader r) {
            byte[] kemOutput = r.opaque("kem_output");
            return new HpkeCiphertext(kemOutput, r.opaque("ciphertext"));
        }

        void write(MlsWriter w) {
            w.opaque(kemOutput).opaque(ciphertext);
        }
    }

    /** {@code UpdatePathNode}: a new parent public key and the path secret encrypted to each resolution node. */
    public record UpdatePathNode(byte[] encryptionKey, List<HpkeCiphertext> encryptedPathSecret) {
        static UpdatePathNode read(MlsReader r) {
            byte[] key = r.opaque("update_path_node.encryption_key");
            return new UpdatePathNode(key, r.list("encrypted_path_secret", CodecLimits.PATH_SECRETS, HpkeCiphertext::read));
        }

        void write(MlsWriter w) {
            w.opaque(encryptionKey).list(encryptedPathSecret, HpkeCiphertext::write);
        }
    }

    /** {@code UpdatePath}: the committer's new leaf and the path above it. */
    public record UpdatePath(LeafNode leafNode, List<UpdatePathNode> nodes) {
        static UpdatePath read(MlsReader r) {
            LeafNode leaf = LeafNode.read(r);
            return new UpdatePath(leaf, r.list("update_path.nodes", CodecLimits.PATH_NODES, UpdatePathNode::read));
        }

        void write(MlsWriter w) {
            leafNode.write(w);
            w.list(nodes, UpdatePathNode::write);
        }
    }

    /** Decodes a bare Commit struct that must use every byte. */
    public static Commit decode(byte[] bytes) {
        MlsReader r = new MlsReader(bytes.clone());
        Commit commit = read(r);
        r.expectEnd("Commit");
        return commit;
    }

    public static Commit read(MlsReader r) {
        List<ProposalOrRef> proposals = r.list("commit.proposals", CodecLimits.PROPOSALS, ProposalOrRef::read);
        UpdatePath path = r.optional("commit.path") ? UpdatePath.read(r) : null;
        return new Commit(proposals, path);
    }

    public byte[] encode() {
        MlsWriter w = new MlsWriter();
        write(w);
        return w.toByteArray();
    }

    public void write(MlsWriter w) {
        w.list(proposals, ProposalOrRef::write);
        w.optional(path != null);
        if (path != null) {
            path.write(w);
        }
    }
}
