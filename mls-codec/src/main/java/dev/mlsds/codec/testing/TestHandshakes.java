package dev.mlsds.codec.testing;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.Credential;
import dev.mlsds.codec.Extension;
import dev.mlsds.codec.GroupContext;
import dev.mlsds.codec.GroupInfo;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.LeafNode;
import dev.mlsds.codec.MlsMessage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.Proposal;
import dev.mlsds.codec.PublicGroupState;
import dev.mlsds.codec.PublicMessage;
import dev.mlsds.codec.PublicTreeException;
import dev.mlsds.codec.RatchetTree;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.WireFormat;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Test support, not for production: PublicMessage handshakes that a Delivery Service keeping a
 * {@link PublicGroupState} accepts: signed with real keys over the right GroupContext, with UpdatePaths whose
 * parent hashes chain, and GroupInfos that describe the state. What a DS cannot check (HPKE keys and
 * ciphertexts, confirmation and membership tags) is filler, so no MLS client could process them.
 *
 * <p>Each builder takes the state the message is for and returns the message with the state it makes
 * ({@code next}, null when the state refuses the message, e.g. a commit from a blank leaf): the caller keeps the
 * state of whichever message the server accepted. The arguments mirror {@link TestMessages}, so a test can build
 * a malformed message (another member's leaf, a stranger's credential) that is validly signed.
 */
public final class TestHandshakes {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final byte[] PROPOSAL_REF_LABEL = "MLS 1.0 Proposal Reference".getBytes(StandardCharsets.US_ASCII);

    private TestHandshakes() {
    }

    /** A built handshake message, its GroupInfo for the epoch it makes (commits; null if refused), and that state. */
    public record Made(byte[] message, byte[] groupInfo, PublicGroupState next) {
    }

    /**
     * The first commit of a new group (epoch 0, from leaf 0, Adds only, no path) and the GroupInfo for epoch 1
     * with the {@code ratchet_tree} extension, signed by the creator: the creator's KeyPackage-style leaf at 0,
     * then the added KeyPackages' leaves.
     */
    public static Made firstCommit(CipherSuite suite, byte[] groupId, String creator, SigningKey creatorKey,
            List<byte[]> addKeyPackages) {
        byte[] commit = TestMessages.commit(groupId, 0, 0, addKeyPackages, List.of(), List.of(), null);
        List<LeafNode> leaves = new ArrayList<>();
        leaves.add(TestKeyPackages.builder(suite, creator).signingKey(creatorKey).buildDecoded().leafNode());
        for (byte[] kp : addKeyPackages) {
            leaves.add(KeyPackage.decode(kp).leafNode());
        }
        int width = 1;
        while (width < leaves.size()) {
            width *= 2;
        }
        List<RatchetTree.Node> nodes = new ArrayList<>();
        for (int x = 0; x < 2 * width - 1; x++) {
            nodes.add(x % 2 == 0 && x / 2 < leaves.size() ? new RatchetTree.Leaf(leaves.get(x / 2)) : new RatchetTree.Blank());
        }
        RatchetTree tree = new RatchetTree(nodes);
        MlsWriter w = new MlsWriter().u16(KeyPackage.MLS10).u16(WireFormat.MLS_GROUP_INFO.value());
        int tbsStart = w.size();
        w.u16(KeyPackage.MLS10).u16(suite.id()).opaque(groupId).u64(1)
                .opaque(PublicGroupState.treeHash(suite, tree)).opaque(random(suite.hash().length()));
        w.vector(ext -> { });
        w.vector(ext -> new Extension(Extension.RATCHET_TREE, tree.encode()).write(ext));
        w.opaque(random(suite.hash().length())).u32(0);
        byte[] groupInfo = sign(w, tbsStart, creatorKey, "GroupInfoTBS");
        return new Made(commit, groupInfo, PublicGroupState.fromGroupInfo((GroupInfo) MlsMessage.decode(groupInfo)));
    }

    /**
     * A commit of {@code state}'s epoch from member {@code senderLeaf}, signed by {@code signer}: inline Adds, then
     * inline Removes, then references to {@code referencedProposals} (PublicMessage proposals as sent), and an
     * UpdatePath whose leaf names {@code pathIdentity} and carries {@code signer}'s key (none when null).
     */
    public static Made commit(PublicGroupState state, SigningKey signer, long senderLeaf, List<byte[]> adds,
            List<Long> removes, List<byte[]> referencedProposals, String pathIdentity) {
        return commit(state, signer, senderLeaf, adds, removes, referencedProposals, pathIdentity, signer);
    }

    /** As {@link #commit(PublicGroupState, SigningKey, long, List, List, List, String)}, the path leaf with {@code pathKey}. */
    public static Made commit(PublicGroupState state, SigningKey signer, long senderLeaf, List<byte[]> adds,
            List<Long> removes, List<byte[]> referencedProposals, String pathIdentity, SigningKey pathKey) {
        List<PublicGroupState.Proposed> proposed = new ArrayList<>();
        adds.forEach(kp -> proposed.add(new PublicGroupState.Proposed(new Proposal.Add(KeyPackage.decode(kp)), senderLeaf)));
        removes.forEach(leaf -> proposed.add(new PublicGroupState.Proposed(new Proposal.Remove(leaf), senderLeaf)));
        for (byte[] raw : referencedProposals) {
            PublicMessage p = (PublicMessage) MlsMessage.decode(raw);
            proposed.add(new PublicGroupState.Proposed(p.proposal(), p.sender().index()));
        }
        MlsWriter w = framedContent(state, new Sender(Sender.Type.MEMBER, senderLeaf), ContentType.COMMIT);
        w.vector(out -> {
            for (byte[] kp : adds) {
                out.u8(1).u16(Proposal.ADD).bytes(KeyPackage.decode(kp).bareBytes());
            }
            for (long leaf : removes) {
                out.u8(1).u16(Proposal.REMOVE).u32(leaf);
            }
            for (byte[] raw : referencedProposals) {
                out.u8(2).opaque(proposalRef(state.suite(), raw));
            }
        });
        w.optional(pathIdentity != null);
        if (pathIdentity != null) {
            writePath(w, state, proposed, senderLeaf, pathKey, pathIdentity);
        }
        return finish(state, w, signer, proposed, true, senderLeaf);
    }

    /**
     * An external commit (sender {@code new_member_commit}) of {@code state}'s epoch: an ExternalInit, Removes of
     * {@code removes}, and the joiner's UpdatePath leaf naming {@code identity} with {@code signer}'s key.
     */
    public static Made externalCommit(PublicGroupState state, SigningKey signer, String identity, List<Long> removes) {
        List<PublicGroupState.Proposed> proposed = new ArrayList<>();
        proposed.add(new PublicGroupState.Proposed(new Proposal.ExternalInit(random(32)), -1));
        removes.forEach(leaf -> proposed.add(new PublicGroupState.Proposed(new Proposal.Remove(leaf), -1)));
        MlsWriter w = framedContent(state, new Sender(Sender.Type.NEW_MEMBER_COMMIT, -1), ContentType.COMMIT);
        w.vector(out -> {
            for (PublicGroupState.Proposed p : proposed) {
                out.u8(1);
                p.proposal().write(out);
            }
        });
        w.optional(true);
        long leaf = writePath(w, state, proposed, -1, signer, identity);
        return finish(state, w, signer, proposed, false, leaf);
    }

    /** A PublicMessage Remove proposal of {@code state}'s epoch from member {@code senderLeaf}, signed by {@code signer}. */
    public static byte[] removeProposal(PublicGroupState state, SigningKey signer, long senderLeaf, long removed) {
        MlsWriter w = framedContent(state, new Sender(Sender.Type.MEMBER, senderLeaf), ContentType.PROPOSAL);
        w.u16(Proposal.REMOVE).u32(removed);
        byte[] tbs = withContext(w, state);
        w.opaque(signer.signWithLabel("FramedContentTBS", tbs));
        return w.opaque(random(state.suite().hash().length())).toByteArray();
    }

    /** A GroupInfo describing {@code state}, signed by leaf {@code signerLeaf} with {@code signer}; external_pub iff asked. */
    public static byte[] groupInfo(PublicGroupState state, SigningKey signer, long signerLeaf, boolean externalPub) {
        return groupInfo(state.context(), state.confirmationTag(), signer, signerLeaf, externalPub);
    }

    /** A GroupInfo with any {@code context} (e.g. one that lies about the tree), signed by {@code signer}. */
    public static byte[] groupInfo(GroupContext context, byte[] confirmationTag, SigningKey signer, long signerLeaf,
            boolean externalPub) {
        CipherSuite suite = CipherSuite.byId(context.cipherSuite()).orElseThrow();
        MlsWriter w = new MlsWriter().u16(KeyPackage.MLS10).u16(WireFormat.MLS_GROUP_INFO.value());
        int tbsStart = w.size();
        context.write(w);
        w.vector(ext -> {
            if (externalPub) {
                new Extension(Extension.EXTERNAL_PUB, random(TestKeyPackages.kemPublicKeyLength(suite))).write(ext);
            }
        });
        w.opaque(confirmationTag).u32(signerLeaf);
        return sign(w, tbsStart, signer, "GroupInfoTBS");
    }

    /** The ProposalRef a DS computes for a PublicMessage proposal (RFC 9420 §5.2, over its AuthenticatedContent). */
    public static byte[] proposalRef(CipherSuite suite, byte[] proposalMessage) {
        PublicMessage pm = (PublicMessage) MlsMessage.decode(proposalMessage);
        int tail = pm.membershipTag() == null ? 0 : MlsWriter.varintSize(pm.membershipTag().length) + pm.membershipTag().length;
        return suite.refHash(PROPOSAL_REF_LABEL, proposalMessage, 2, proposalMessage.length - 2 - tail);
    }

    // ---- internals ------------------------------------------------------------------------------

    private static MlsWriter framedContent(PublicGroupState state, Sender sender, ContentType type) {
        MlsWriter w = new MlsWriter().u16(KeyPackage.MLS10).u16(WireFormat.MLS_PUBLIC_MESSAGE.value())
                .opaque(state.context().groupId()).u64(state.epoch());
        sender.write(w);
        return w.opaque(new byte[0]).u8(type.value());
    }

    /** Writes the UpdatePath (leaf, then nodes with filler keys and no ciphertexts); returns the leaf's index. */
    private static long writePath(MlsWriter w, PublicGroupState state, List<PublicGroupState.Proposed> proposed,
            long committerLeaf, SigningKey signer, String identity) {
        int hashLength = state.suite().hash().length();
        long leafIndex = committerLeaf;
        List<byte[]> keys = new ArrayList<>();
        byte[] parentHash = random(hashLength);
        try {
            PublicGroupState.PathPlan plan = state.planPath(proposed, committerLeaf, null);
            for (int i = 0; i < plan.pathLength(); i++) {
                keys.add(random(32));
            }
            PublicGroupState.PathPlan full = state.planPath(proposed, committerLeaf, keys);
            leafIndex = full.leafIndex();
            parentHash = full.parentHash();
        } catch (PublicTreeException e) {
            // the state refuses these proposals: the commit is built anyway, for a test of the refusal
        }
        MlsWriter leaf = new MlsWriter();
        leaf.opaque(random(32)).opaque(signer.publicKey())
                .u16(Credential.BASIC).opaque(identity.getBytes(StandardCharsets.UTF_8))
                .u16List(List.of(KeyPackage.MLS10)).u16List(List.of(state.suite().id())).u16List(List.of())
                .u16List(List.of()).u16List(List.of(Credential.BASIC))
                .u8(LeafNode.Source.COMMIT.value()).opaque(parentHash)
                .vector(ext -> { });
        byte[] fields = leaf.toByteArray();
        byte[] tbs = new MlsWriter(fields.length + 64).bytes(fields).opaque(state.context().groupId())
                .u32(Math.max(leafIndex, 0)).toByteArray();
        w.bytes(fields).opaque(signer.signWithLabel("LeafNodeTBS", tbs));
        w.list(keys, (key, out) -> out.opaque(key).vector(cts -> { }));
        return leafIndex;
    }

    private static Made finish(PublicGroupState state, MlsWriter w, SigningKey signer,
            List<PublicGroupState.Proposed> proposed, boolean member, long signerLeaf) {
        byte[] tbs = withContext(w, state);
        w.opaque(signer.signWithLabel("FramedContentTBS", tbs));
        w.opaque(random(state.suite().hash().length()));
        if (member) {
            w.opaque(random(state.suite().hash().length()));
        }
        byte[] message = w.toByteArray();
        PublicGroupState next;
        try {
            next = state.applyCommit((PublicMessage) MlsMessage.decode(message), proposed);
        } catch (PublicTreeException e) {
            next = null;
        }
        byte[] groupInfo = next == null ? null : groupInfo(next, signer, signerLeaf, true);
        return new Made(message, groupInfo, next);
    }

    /** The bytes written so far followed by the state's GroupContext: a FramedContentTBS. */
    private static byte[] withContext(MlsWriter w, PublicGroupState state) {
        MlsWriter tbs = new MlsWriter(w.size() + 256);
        tbs.bytes(w.toByteArray());
        state.context().write(tbs);
        return tbs.toByteArray();
    }

    private static byte[] sign(MlsWriter w, int tbsStart, SigningKey key, String label) {
        byte[] all = w.toByteArray();
        byte[] tbs = java.util.Arrays.copyOfRange(all, tbsStart, all.length);
        return w.opaque(key.signWithLabel(label, tbs)).toByteArray();
    }

    private static byte[] random(int length) {
        byte[] b = new byte[length];
        RANDOM.nextBytes(b);
        return b;
    }
}
