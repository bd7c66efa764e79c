package dev.mlsds.codec;

import java.util.List;

/**
 * A serialized ratchet tree, {@code optional<Node> ratchet_tree<V>} (RFC 9420 §12.4.3.3), as carried
 * in the {@code ratchet_tree} GroupInfo extension. Node {@code i} of the list is node {@code i} of the
 * array representation of the tree; blank nodes are {@link Blank}. Byte arrays are shared, not copied.
 */
public record RatchetTree(List<Node> nodes) {

    public sealed interface Node permits Blank, Leaf, Parent {
    }

    public record Blank() implements Node {
    }

    public record Leaf(LeafNode leafNode) implements Node {
    }

    /** {@code ParentNode}: {@code unmergedLeaves} are leaf indices. */
    public record Parent(byte[] encryptionKey, byte[] parentHash, List<Long> unmergedLeaves) implements Node {
    }

    /** Decodes a complete serialized ratchet tree that must use every byte. */
    public static RatchetTree decode(byte[] bytes) {
        MlsReader r = new MlsReader(bytes.clone());
        RatchetTree tree = read(r);
        r.expectEnd("ratchet_tree");
        return tree;
    }

    public static RatchetTree read(MlsReader r) {
        return new RatchetTree(r.list("ratchet_tree", CodecLimits.TREE_NODES, RatchetTree::readNode));
    }

    private static Node readNode(MlsReader r) {
        if (!r.optional("ratchet_tree.node")) {
            return new Blank();
        }
        int at = r.position();
        int type = r.u8("node_type");
        return switch (type) {
            case 1 -> new Leaf(LeafNode.read(r));
            case 2 -> {
                byte[] key = r.opaque("parent_node.encryption_key");
                byte[] parentHash = r.opaque("parent_node.parent_hash");
                yield new Parent(key, parentHash, r.list("parent_node.unmerged_leaves", CodecLimits.UNMERGED_LEAVES, u -> u.u32("unmerged_leaf")));
            }
            default -> throw new MlsDecodeException("node_type: unknown value " + type, at);
        };
    }

    public byte[] encode() {
        MlsWriter w = new MlsWriter();
        write(w);
        return w.toByteArray();
    }

    public void write(MlsWriter w) {
        w.list(nodes, RatchetTree::writeNode);
    }

    private static void writeNode(Node node, MlsWriter w) {
        switch (node) {
            case Blank b -> w.optional(false);
            case Leaf leaf -> {
                w.optional(true).u8(1);
                leaf.leafNode().write(w);
            }
            case Parent p -> {
                w.optional(true).u8(2).opaque(p.encryptionKey()).opaque(p.parentHash());
                w.list(p.unmergedLeaves(), (leaf, out) -> out.u32(leaf));
            }
        }
    }
}
