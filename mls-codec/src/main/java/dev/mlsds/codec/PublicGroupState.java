package dev.mlsds.codec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.bouncycastle.crypto.Digest;

/**
 * The public state of an MLS group at one epoch, as a Delivery Service that sees every handshake in the
 * clear can keep it: the {@link GroupContext}, the interim transcript hash and the public ratchet tree
 * (RFC 9420 §7, §8.2). No private keys: it cannot decrypt, so it checks what is public and signed.
 *
 * <p>{@link #applyCommit} verifies a PublicMessage commit against this epoch (the {@code FramedContentTBS}
 * signature with the sender's leaf key and this GroupContext, §6.1; the committer's new leaf's signature and
 * that its {@code parent_hash} chains up the path the commit installs, §7.9.2) and returns the next epoch's
 * state: proposals applied in RFC order (§12.3), the UpdatePath merged with recomputed parent hashes (§7.5,
 * §7.9), the tree hash (§7.8) and the transcript hashes (§8.2). What it cannot check is what needs secrets:
 * HPKE ciphertexts, the confirmation and membership tags.
 *
 * <p>Immutable and deterministic: the same messages give the same state, byte for byte ({@link #encode}).
 * The tree is held in its array representation (RFC 9420 Appendix C), always with a power-of-two number of
 * leaves. Refusals are {@link PublicTreeException}s.
 */
public final class PublicGroupState {
    private static final byte[] EMPTY = new byte[0];

    /**
     * A proposal a commit applies, resolved: an inline one is the committer's ({@code senderLeaf} is the
     * committer's leaf, or -1 in an external commit); a referenced one carries its proposer's leaf.
     */
    public record Proposed(Proposal proposal, long senderLeaf) {
    }

    private final CipherSuite suite;
    private final GroupContext context;
    private final byte[] interimTranscriptHash;
    private final byte[] confirmationTag;
    private RatchetTree.Node[] nodes;
    /** Tree hash of each node's subtree, null until computed; a write to a node clears it and its ancestors. */
    private byte[][] hashes;

    private PublicGroupState(CipherSuite suite, GroupContext context, byte[] interim, byte[] confirmationTag,
            RatchetTree.Node[] nodes) {
        this(suite, context, interim, confirmationTag, nodes, new byte[nodes.length][]);
    }

    private PublicGroupState(CipherSuite suite, GroupContext context, byte[] interim, byte[] confirmationTag,
            RatchetTree.Node[] nodes, byte[][] hashes) {
        this.suite = suite;
        this.context = context;
        this.interimTranscriptHash = interim;
        this.confirmationTag = confirmationTag;
        this.nodes = nodes;
        this.hashes = hashes;
    }

    /** Sets node {@code x}, forgetting the cached hashes that depend on it. */
    private void set(int x, RatchetTree.Node node) {
        nodes[x] = node;
        hashes[x] = null;
        int r = root();
        while (x != r) {
            x = parent(x);
            hashes[x] = null;
        }
    }

    /** Resizes the tree (extension or truncation): nodes keep their indices, and their subtrees their hashes. */
    private void resize(int length) {
        RatchetTree.Node[] resized = Arrays.copyOf(nodes, length);
        for (int x = nodes.length; x < length; x++) {
            resized[x] = new RatchetTree.Blank();
        }
        hashes = Arrays.copyOf(hashes, length);
        nodes = resized;
    }

    // ---- construction ---------------------------------------------------------------------------

    /**
     * The state a GroupInfo that carries the {@code ratchet_tree} extension describes (the bootstrap: a
     * server that did not see the group's epoch 0 trusts its creator for the first tree). Checks that the
     * tree is well-formed, that its hash is the GroupContext's {@code tree_hash}, that every leaf's signature
     * verifies and that the GroupInfo's signature verifies with the signer leaf's key. The interim transcript
     * hash follows from the confirmed one and the GroupInfo's confirmation tag (§8.2).
     */
    public static PublicGroupState fromGroupInfo(GroupInfo gi) {
        return fromGroupInfo(gi, Integer.MAX_VALUE);
    }

    /**
     * As {@link #fromGroupInfo(GroupInfo)}, refusing a tree of more than {@code maxLeaves} leaves before hashing it or
     * verifying a signature (each leaf costs a signature verification: bound it by what the caller expects).
     */
    public static PublicGroupState fromGroupInfo(GroupInfo gi, int maxLeaves) {
        CipherSuite suite = CipherSuite.byId(gi.cipherSuite())
                .orElseThrow(() -> PublicTreeException.invalid("groupInfo: unknown cipher suite " + gi.cipherSuite()));
        Extension ext = gi.extensions().stream().filter(e -> e.type() == Extension.RATCHET_TREE).findFirst()
                .orElseThrow(() -> PublicTreeException.invalid("groupInfo: no ratchet_tree extension"));
        RatchetTree.Node[] nodes = decodeTree(ext.data());
        if ((nodes.length + 1) / 2 > maxLeaves) {
            throw PublicTreeException.invalid("groupInfo: the ratchet tree has " + (nodes.length + 1) / 2
                    + " leaves, more than the " + maxLeaves + " expected");
        }
        PublicGroupState s = new PublicGroupState(suite, gi.groupContext(),
                interim(suite, gi.groupContext().confirmedTranscriptHash(), gi.confirmationTag()), gi.confirmationTag(), nodes);
        if (!Arrays.equals(s.treeHash(), gi.groupContext().treeHash())) {
            throw PublicTreeException.invalid("groupInfo: the ratchet tree's hash is not the GroupContext's tree_hash");
        }
        for (int leaf = 0; leaf < s.leafCount(); leaf++) {
            if (s.nodes[2 * leaf] instanceof RatchetTree.Leaf l && !s.leafSignatureValid(l.leafNode(), leaf)) {
                throw PublicTreeException.signature("groupInfo: the signature of leaf " + leaf + " does not verify");
            }
        }
        s.verifyGroupInfoSignature(gi);
        return s;
    }

    /** Decodes a state {@link #encode} wrote. */
    public static PublicGroupState decode(byte[] bytes) {
        MlsReader r = new MlsReader(bytes.clone());
        GroupContext context = GroupContext.read(r);
        byte[] interim = r.opaque("interim_transcript_hash");
        byte[] tag = r.opaque("confirmation_tag");
        RatchetTree tree = RatchetTree.read(r);
        r.expectEnd("PublicGroupState");
        CipherSuite suite = CipherSuite.byId(context.cipherSuite())
                .orElseThrow(() -> new MlsDecodeException("cipher_suite: unknown " + context.cipherSuite(), 0));
        return new PublicGroupState(suite, context, interim, tag, full(tree.nodes()));
    }

    /** {@code GroupContext || opaque interim<V> || opaque confirmation_tag<V> || ratchet_tree} (trailing blanks cut). */
    public byte[] encode() {
        MlsWriter w = new MlsWriter(1024);
        context.write(w);
        w.opaque(interimTranscriptHash).opaque(confirmationTag);
        ratchetTree().write(w);
        return w.toByteArray();
    }

    // ---- accessors ------------------------------------------------------------------------------

    public CipherSuite suite() {
        return suite;
    }

    public GroupContext context() {
        return context;
    }

    public long epoch() {
        return context.epoch();
    }

    public byte[] interimTranscriptHash() {
        return interimTranscriptHash.clone();
    }

    /** The confirmation tag of the commit that made this epoch (or of the bootstrap GroupInfo). */
    public byte[] confirmationTag() {
        return confirmationTag.clone();
    }

    /** Number of leaves, a power of two. */
    public int leafCount() {
        return (nodes.length + 1) / 2;
    }

    /** The leaf at {@code index}, if occupied. */
    public Optional<LeafNode> leaf(long index) {
        if (index < 0 || index >= leafCount()) {
            return Optional.empty();
        }
        return nodes[(int) (2 * index)] instanceof RatchetTree.Leaf l ? Optional.of(l.leafNode()) : Optional.empty();
    }

    /** The tree as the {@code ratchet_tree} extension carries it: trailing blank nodes cut (§12.4.3.3). */
    public RatchetTree ratchetTree() {
        int end = nodes.length;
        while (end > 1 && nodes[end - 1] instanceof RatchetTree.Blank) {
            end--;
        }
        return new RatchetTree(List.of(Arrays.copyOf(nodes, end)));
    }

    /** The tree hash of the root (§7.8). */
    public byte[] treeHash() {
        return treeHash(root());
    }

    /** The tree hash (§7.8) of a serialized ratchet tree (padded with blanks to a full tree), e.g. to build a GroupInfo. */
    public static byte[] treeHash(CipherSuite suite, RatchetTree tree) {
        return new PublicGroupState(suite, null, EMPTY, EMPTY, full(tree.nodes())).treeHash();
    }

    // ---- verification ---------------------------------------------------------------------------

    /**
     * Verifies a PublicMessage proposal of this epoch from a member: its signature with the sender's leaf key,
     * and for an Update, its leaf (source update, signature over the leaf with this group and the sender's index).
     */
    public void verifyProposal(PublicMessage pm) {
        requireThisEpoch(pm, ContentType.PROPOSAL);
        if (pm.sender().type() != Sender.Type.MEMBER) {
            throw PublicTreeException.invalid("proposal: only member proposals are verified");
        }
        LeafNode sender = leaf(pm.sender().index())
                .orElseThrow(() -> PublicTreeException.invalid("proposal: the sender leaf " + pm.sender().index() + " is blank"));
        verifyContentSignature(pm, sender.signatureKey(), "proposal");
        if (pm.proposal() instanceof Proposal.Update u) {
            checkUpdateLeaf(u.leafNode(), pm.sender().index());
        }
    }

    /**
     * Verifies a PublicMessage commit of this epoch and returns the state of the epoch it makes.
     *
     * @param proposals the commit's proposals in order, references resolved by the caller
     */
    public PublicGroupState applyCommit(PublicMessage pm, List<Proposed> proposals) {
        requireThisEpoch(pm, ContentType.COMMIT);
        Commit commit = pm.commit();
        long senderLeaf;
        byte[] senderKey;
        switch (pm.sender().type()) {
            case MEMBER -> {
                senderLeaf = pm.sender().index();
                senderKey = leaf(senderLeaf).orElseThrow(() -> PublicTreeException.invalid(
                        "commit: the sender leaf " + senderLeaf + " is blank")).signatureKey();
            }
            case NEW_MEMBER_COMMIT -> {
                if (commit.path() == null) {
                    throw PublicTreeException.invalid("commit: an external commit needs an UpdatePath");
                }
                senderLeaf = -1;
                senderKey = commit.path().leafNode().signatureKey();
            }
            default -> throw PublicTreeException.invalid("commit: sender type " + pm.sender().type().rfcName() + " may not commit");
        }
        verifyContentSignature(pm, senderKey, "commit");

        Working w = afterProposals(proposals, senderLeaf);
        PublicGroupState next = w.tree();
        List<Extension> extensions = w.extensions();
        if (commit.path() != null) {
            long committer = senderLeaf >= 0 ? senderLeaf : next.insert(commit.path().leafNode());
            next.applyPath(committer, commit.path());
        }

        byte[] raw = pm.raw();
        int contentEnd = raw.length - field(pm.signature()) - field(pm.confirmationTag()) - field(pm.membershipTag());
        // ConfirmedTranscriptHashInput = wire_format || FramedContent || signature: contiguous in the message.
        Digest d = suite.hash().newDigest();
        d.update(interimTranscriptHash, 0, interimTranscriptHash.length);
        d.update(raw, 2, contentEnd + field(pm.signature()) - 2);
        byte[] confirmed = finish(d);
        GroupContext nextContext = new GroupContext(context.version(), context.cipherSuite(), context.groupId(),
                context.epoch() + 1, next.treeHash(), confirmed, extensions);
        return new PublicGroupState(suite, nextContext, interim(suite, confirmed, pm.confirmationTag()),
                pm.confirmationTag(), next.nodes, next.hashes);
    }

    private record Working(PublicGroupState tree, List<Extension> extensions) {
    }

    /** A copy of this state's tree with {@code proposals} applied in RFC 9420 §12.3 order, and the new extensions. */
    private Working afterProposals(List<Proposed> proposals, long senderLeaf) {
        PublicGroupState next = new PublicGroupState(suite, context, interimTranscriptHash, confirmationTag, nodes.clone(),
                hashes.clone());
        List<Extension> extensions = context.extensions();
        boolean gce = false;
        // RFC 9420 §12.3: GroupContextExtensions, Update, Remove, Add; PreSharedKey, ExternalInit, ReInit leave the tree.
        for (Proposed p : proposals) {
            if (p.proposal() instanceof Proposal.GroupContextExtensions g) {
                if (gce) {
                    throw PublicTreeException.invalid("commit: more than one GroupContextExtensions proposal");
                }
                gce = true;
                extensions = g.extensions();
            }
        }
        for (Proposed p : proposals) {
            if (p.proposal() instanceof Proposal.Update u) {
                if (p.senderLeaf() == senderLeaf || p.senderLeaf() < 0) {
                    throw PublicTreeException.invalid("commit: it carries an Update of the committer's own leaf");
                }
                if (next.leaf(p.senderLeaf()).isEmpty()) {
                    throw PublicTreeException.invalid("commit: it carries an Update of leaf " + p.senderLeaf() + ", which is blank");
                }
                checkUpdateLeaf(u.leafNode(), p.senderLeaf());
                int x = (int) (2 * p.senderLeaf());
                next.set(x, new RatchetTree.Leaf(u.leafNode()));
                next.blankDirectPath(x);
            }
        }
        for (Proposed p : proposals) {
            if (p.proposal() instanceof Proposal.Remove rm) {
                if (next.leaf(rm.removed()).isEmpty()) {
                    throw PublicTreeException.invalid("commit: it removes leaf " + rm.removed() + ", which is blank");
                }
                if (rm.removed() == senderLeaf) {
                    throw PublicTreeException.invalid("commit: it removes the committer's own leaf");
                }
                int x = (int) (2 * rm.removed());
                next.set(x, new RatchetTree.Blank());
                next.blankDirectPath(x);
            }
        }
        next.truncate();
        for (Proposed p : proposals) {
            if (p.proposal() instanceof Proposal.Add add) {
                next.insert(add.keyPackage().leafNode());
            }
        }
        return new Working(next, extensions);
    }

    /**
     * What a committer needs to build an UpdatePath (test builders use it): after {@code proposals}, the leaf the
     * committer's new leaf goes to ({@code committerLeaf}, or for an external commit ({@code -1}) the leftmost
     * blank leaf), the number of path nodes (its filtered direct path), and the {@code parent_hash} its new leaf
     * must carry when the path installs {@code pathKeys} (may be null: then only the index and length are given).
     */
    public PathPlan planPath(List<Proposed> proposals, long committerLeaf, List<byte[]> pathKeys) {
        PublicGroupState w = afterProposals(proposals, committerLeaf).tree();
        long leaf = committerLeaf >= 0 ? committerLeaf : w.insert(leafPlaceholder());
        int length = w.filteredDirectPath((int) (2 * leaf)).size();
        byte[] parentHash = pathKeys == null ? null : w.mergePath(leaf, pathKeys);
        return new PathPlan(leaf, length, parentHash);
    }

    /** See {@link #planPath}. */
    public record PathPlan(long leafIndex, int pathLength, byte[] parentHash) {
    }

    private static LeafNode leafPlaceholder() {
        return new LeafNode(EMPTY, EMPTY, null, null, LeafNode.Source.COMMIT, null, EMPTY, List.of(), EMPTY, EMPTY);
    }

    /**
     * Checks that a GroupInfo describes this epoch: the same GroupContext (byte for byte) and confirmation tag,
     * a signature that verifies with the signer leaf's key, and, if it carries the tree, the same tree hash.
     */
    public void checkGroupInfo(GroupInfo gi) {
        GroupContext c = gi.groupContext();
        String field = !Arrays.equals(c.groupId(), context.groupId()) ? "group_id"
                : c.epoch() != context.epoch() ? "epoch"
                : c.version() != context.version() || c.cipherSuite() != context.cipherSuite() ? "version or cipher_suite"
                : !Arrays.equals(c.treeHash(), context.treeHash()) ? "tree_hash"
                : !Arrays.equals(c.confirmedTranscriptHash(), context.confirmedTranscriptHash()) ? "confirmed_transcript_hash"
                : !Arrays.equals(encodeContext(c), encodeContext(context)) ? "extensions"
                : null;
        if (field != null) {
            throw PublicTreeException.invalid("groupInfo: its GroupContext's " + field + " is not the group's at epoch "
                    + context.epoch());
        }
        if (!Arrays.equals(gi.confirmationTag(), confirmationTag)) {
            throw PublicTreeException.invalid("groupInfo: its confirmation_tag is not the commit's");
        }
        verifyGroupInfoSignature(gi);
        for (Extension e : gi.extensions()) {
            if (e.type() == Extension.RATCHET_TREE) {
                RatchetTree.Node[] theirs = decodeTree(e.data());
                PublicGroupState s = new PublicGroupState(suite, context, interimTranscriptHash, confirmationTag, theirs);
                if (!Arrays.equals(s.treeHash(), context.treeHash())) {
                    throw PublicTreeException.invalid("groupInfo: its ratchet_tree is not the group's tree");
                }
            }
        }
    }

    private void verifyGroupInfoSignature(GroupInfo gi) {
        LeafNode signer = leaf(gi.signer()).orElseThrow(() -> PublicTreeException.invalid(
                "groupInfo: the signer leaf " + gi.signer() + " is blank"));
        byte[] raw = gi.raw();
        // GroupInfoTBS is the GroupInfo minus the MLSMessage header and the signature.
        int tbsEnd = raw.length - field(gi.signature());
        if (!Signatures.verifyWithLabel(suite, signer.signatureKey(), "GroupInfoTBS", raw, 4, tbsEnd - 4, gi.signature())) {
            throw PublicTreeException.signature("groupInfo: the signature does not verify with signer leaf " + gi.signer() + "'s key");
        }
    }

    private void requireThisEpoch(PublicMessage pm, ContentType type) {
        if (pm.contentType() != type) {
            throw PublicTreeException.invalid("expected a " + type + ", got " + pm.contentType());
        }
        if (!Arrays.equals(pm.groupId(), context.groupId()) || pm.epoch() != context.epoch()) {
            throw PublicTreeException.invalid(type.name().toLowerCase(java.util.Locale.ROOT)
                    + ": it is not for this group at epoch " + context.epoch());
        }
    }

    /** §6.1: FramedContentTBS = version || wire_format || FramedContent || GroupContext (member, new_member_commit). */
    private void verifyContentSignature(PublicMessage pm, byte[] key, String what) {
        byte[] raw = pm.raw();
        int contentEnd = raw.length - field(pm.signature()) - field(pm.confirmationTag()) - field(pm.membershipTag());
        MlsWriter w = new MlsWriter(contentEnd + 256);
        w.bytes(raw, 0, contentEnd);
        context.write(w);
        byte[] tbs = w.toByteArray();
        if (!Signatures.verifyWithLabel(suite, key, "FramedContentTBS", tbs, pm.signature())) {
            throw PublicTreeException.signature(what + ": the signature does not verify with the sender leaf's key");
        }
    }

    private void checkUpdateLeaf(LeafNode leaf, long index) {
        if (leaf.source() != LeafNode.Source.UPDATE) {
            throw PublicTreeException.invalid("an Update's leaf has source " + leaf.source().rfcName() + ", not update");
        }
        if (!leafSignatureValid(leaf, index)) {
            throw PublicTreeException.signature("the Update's leaf signature does not verify for leaf " + index);
        }
    }

    /** LeafNodeTBS (§7.2): the leaf's fields, plus group_id and leaf_index unless it came from a KeyPackage. */
    private boolean leafSignatureValid(LeafNode leaf, long index) {
        byte[] raw = leaf.raw();
        int len = leaf.tbsLength();
        if (leaf.source() == LeafNode.Source.KEY_PACKAGE) {
            return Signatures.verifyWithLabel(suite, leaf.signatureKey(), "LeafNodeTBS", raw, 0, len, leaf.signature());
        }
        byte[] tbs = new MlsWriter(len + 64).bytes(raw, 0, len).opaque(context.groupId()).u32(index).toByteArray();
        return Signatures.verifyWithLabel(suite, leaf.signatureKey(), "LeafNodeTBS", tbs, leaf.signature());
    }

    // ---- tree operations (mutate this.nodes; only on a fresh copy inside applyCommit) ------------

    /** §7.5/§7.9: the committer's new leaf and parent nodes, with parent hashes recomputed top-down. */
    private void applyPath(long leafIndex, Commit.UpdatePath path) {
        LeafNode leaf = path.leafNode();
        if (leaf.source() != LeafNode.Source.COMMIT) {
            throw PublicTreeException.invalid("commit: the UpdatePath leaf's source is " + leaf.source().rfcName());
        }
        if (!leafSignatureValid(leaf, leafIndex)) {
            throw PublicTreeException.signature("commit: the UpdatePath leaf's signature does not verify");
        }
        set((int) (2 * leafIndex), new RatchetTree.Leaf(leaf));
        List<byte[]> keys = path.nodes().stream().map(Commit.UpdatePathNode::encryptionKey).toList();
        if (!Arrays.equals(leaf.parentHash(), mergePath(leafIndex, keys))) {
            throw PublicTreeException.invalid("commit: the UpdatePath leaf's parent_hash does not match the path (§7.9.2)");
        }
    }

    /**
     * Installs a path above leaf {@code leafIndex}: its direct path blanked, then its filtered direct path given
     * {@code keys} and parent hashes computed top-down (§7.9); returns the parent hash the leaf must carry.
     */
    private byte[] mergePath(long leafIndex, List<byte[]> keys) {
        int x = (int) (2 * leafIndex);
        List<int[]> filtered = filteredDirectPath(x);
        if (keys.size() != filtered.size()) {
            throw PublicTreeException.invalid("commit: the UpdatePath has " + keys.size()
                    + " nodes, the committer's filtered direct path " + filtered.size());
        }
        blankDirectPath(x);
        byte[] parentHash = EMPTY;
        for (int i = filtered.size() - 1; i >= 0; i--) {
            byte[] key = keys.get(i);
            set(filtered.get(i)[0], new RatchetTree.Parent(key, parentHash, List.of()));
            byte[] siblingHash = treeHash(filtered.get(i)[1]);
            MlsWriter in = new MlsWriter(key.length + parentHash.length + siblingHash.length + 8);
            parentHash = hash(in.opaque(key).opaque(parentHash).opaque(siblingHash).toByteArray());
        }
        return parentHash;
    }

    /** Direct-path nodes of node {@code x} whose copath child has a non-empty resolution, as {parent, copath child}. */
    private List<int[]> filteredDirectPath(int x) {
        List<int[]> out = new ArrayList<>();
        int r = root();
        int child = x;
        while (child != r) {
            int p = parent(child);
            int copath = child < p ? right(p) : left(p);
            if (!subtreeBlank(copath)) {
                out.add(new int[] {p, copath});
            }
            child = p;
        }
        return out;
    }

    private boolean subtreeBlank(int x) {
        if (!(nodes[x] instanceof RatchetTree.Blank)) {
            return false;
        }
        return level(x) == 0 || subtreeBlank(left(x)) && subtreeBlank(right(x));
    }

    private void blankDirectPath(int x) {
        int r = root();
        while (x != r) {
            x = parent(x);
            set(x, new RatchetTree.Blank());
        }
    }

    /** §12.1.1/§7.7: the leftmost blank leaf, else a doubled tree; parents on its path list it as unmerged. */
    private long insert(LeafNode leaf) {
        int index = 0;
        while (index < leafCount() && !(nodes[2 * index] instanceof RatchetTree.Blank)) {
            index++;
        }
        if (index == leafCount()) {
            resize(2 * nodes.length + 1);
        }
        int x = 2 * index;
        set(x, new RatchetTree.Leaf(leaf));
        int r = root();
        while (x != r) {
            x = parent(x);
            if (nodes[x] instanceof RatchetTree.Parent p) {
                List<Long> unmerged = new ArrayList<>(p.unmergedLeaves());
                unmerged.add((long) index);
                set(x, new RatchetTree.Parent(p.encryptionKey(), p.parentHash(), List.copyOf(unmerged)));
            }
        }
        return index;
    }

    /** §12.1.3: halve the tree while its right half holds no leaf. */
    private void truncate() {
        while (nodes.length > 1) {
            int half = leafCount() / 2;
            for (int leaf = half; leaf < leafCount(); leaf++) {
                if (!(nodes[2 * leaf] instanceof RatchetTree.Blank)) {
                    return;
                }
            }
            resize(nodes.length / 2);
        }
    }

    private byte[] treeHash(int x) {
        if (hashes[x] != null) {
            return hashes[x];
        }
        // TreeHashInput (§7.8), fed to the digest as it is serialized.
        Digest d = suite.hash().newDigest();
        if (level(x) == 0) {
            d.update((byte) 1);
            updateU32(d, x / 2);
            if (nodes[x] instanceof RatchetTree.Leaf l) {
                d.update((byte) 1);
                d.update(l.leafNode().raw(), 0, l.leafNode().raw().length);
            } else {
                d.update((byte) 0);
            }
        } else {
            byte[] left = treeHash(left(x));
            byte[] right = treeHash(right(x));
            d.update((byte) 2);
            if (nodes[x] instanceof RatchetTree.Parent p) {
                d.update((byte) 1);
                CipherSuite.updateVector(d, p.encryptionKey(), 0, p.encryptionKey().length);
                CipherSuite.updateVector(d, p.parentHash(), 0, p.parentHash().length);
                byte[] unmerged = new byte[4 * p.unmergedLeaves().size()];
                for (int i = 0; i < p.unmergedLeaves().size(); i++) {
                    long leaf = p.unmergedLeaves().get(i);
                    for (int k = 0; k < 4; k++) {
                        unmerged[4 * i + k] = (byte) (leaf >>> (24 - 8 * k));
                    }
                }
                CipherSuite.updateVector(d, unmerged, 0, unmerged.length);
            } else {
                d.update((byte) 0);
            }
            CipherSuite.updateVector(d, left, 0, left.length);
            CipherSuite.updateVector(d, right, 0, right.length);
        }
        hashes[x] = finish(d);
        return hashes[x];
    }

    private static void updateU32(Digest d, long v) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            d.update((byte) (v >>> shift));
        }
    }

    // ---- tree math (RFC 9420 Appendix C) ---------------------------------------------------------

    private int root() {
        return (nodes.length - 1) / 2;
    }

    private static int level(int x) {
        return Integer.numberOfTrailingZeros(~x);
    }

    private static int left(int x) {
        return x ^ (1 << (level(x) - 1));
    }

    private static int right(int x) {
        return x ^ (3 << (level(x) - 1));
    }

    private static int parent(int x) {
        int k = level(x);
        int b = (x >> (k + 1)) & 1;
        return (x | (1 << k)) ^ (b << (k + 1));
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** A decoded ratchet_tree, padded with blanks to a full tree; node kinds must fit their positions. */
    private static RatchetTree.Node[] decodeTree(byte[] data) {
        RatchetTree tree;
        try {
            tree = RatchetTree.decode(data);
        } catch (MlsDecodeException e) {
            throw PublicTreeException.invalid("ratchet_tree: " + e.getMessage());
        }
        if (tree.nodes().isEmpty()) {
            throw PublicTreeException.invalid("ratchet_tree: empty");
        }
        RatchetTree.Node[] nodes = full(tree.nodes());
        for (int x = 0; x < nodes.length; x++) {
            boolean fits = nodes[x] instanceof RatchetTree.Blank
                    || (x % 2 == 0 ? nodes[x] instanceof RatchetTree.Leaf : nodes[x] instanceof RatchetTree.Parent);
            if (!fits) {
                throw PublicTreeException.invalid("ratchet_tree: node " + x + " is of the wrong kind for its position");
            }
        }
        return nodes;
    }

    private static RatchetTree.Node[] full(List<RatchetTree.Node> list) {
        int leaves = 1;
        while (2 * leaves - 1 < list.size()) {
            leaves *= 2;
        }
        RatchetTree.Node[] nodes = new RatchetTree.Node[2 * leaves - 1];
        Arrays.fill(nodes, new RatchetTree.Blank());
        for (int i = 0; i < list.size(); i++) {
            nodes[i] = list.get(i);
        }
        return nodes;
    }

    private static byte[] interim(CipherSuite suite, byte[] confirmed, byte[] confirmationTag) {
        Digest d = suite.hash().newDigest();
        d.update(confirmed, 0, confirmed.length);
        CipherSuite.updateVector(d, confirmationTag, 0, confirmationTag.length);
        return finish(d);
    }

    private byte[] hash(byte[] input) {
        Digest d = suite.hash().newDigest();
        d.update(input, 0, input.length);
        return finish(d);
    }

    private static byte[] finish(Digest d) {
        byte[] out = new byte[d.getDigestSize()];
        d.doFinal(out, 0);
        return out;
    }

    private static byte[] encodeContext(GroupContext c) {
        MlsWriter w = new MlsWriter();
        c.write(w);
        return w.toByteArray();
    }

    /** Encoded size of an {@code opaque<V>} holding {@code b} (0 when absent). */
    private static int field(byte[] b) {
        return b == null ? 0 : MlsWriter.varintSize(b.length) + b.length;
    }
}
