package dev.mlsds.codec.testing;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.Credential;
import dev.mlsds.codec.Extension;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.Proposal;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.WireFormat;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Test support, not for production: well-formed MLS messages whose headers a Delivery Service reads
 * (group id, epoch, sender, content type, Commit proposals, Welcome recipients, GroupInfo
 * extensions). Everything a DS cannot check (ciphertexts, MACs, signatures of framed content, HPKE
 * keys) is filler of a plausible length, so these messages parse but would not be accepted by an MLS
 * client.
 */
public final class TestMessages {
    private static final int FILLER = 32;

    private TestMessages() {
    }

    /** A Welcome whose {@code secrets[i].new_member} is {@code keyPackageRefs[i]}. */
    public static byte[] welcome(CipherSuite suite, List<byte[]> keyPackageRefs) {
        MlsWriter w = header(WireFormat.MLS_WELCOME).u16(suite.id());
        w.list(keyPackageRefs, (ref, out) -> out.opaque(ref).opaque(filler(FILLER)).opaque(filler(48)));
        return w.opaque(filler(96)).toByteArray();
    }

    /**
     * A PublicMessage Commit from member {@code senderLeaf} with inline Add proposals for
     * {@code addKeyPackages} (framed or bare; each is embedded bare) followed by inline Removes of
     * {@code removedLeaves}, and an UpdatePath iff {@code withPath}.
     */
    public static byte[] commit(byte[] groupId, long epoch, long senderLeaf, List<byte[]> addKeyPackages,
            List<Long> removedLeaves, boolean withPath) {
        return commit(groupId, epoch, senderLeaf, addKeyPackages, removedLeaves, List.of(),
                withPath ? "committer@" + epoch : null);
    }

    /**
     * As {@link #commit(byte[], long, long, List, List, boolean)}, plus proposals by reference
     * ({@code proposalRefs}, after the inline ones), and an UpdatePath whose leaf credential identity is
     * {@code pathIdentity} (none when null).
     */
    public static byte[] commit(byte[] groupId, long epoch, long senderLeaf, List<byte[]> addKeyPackages,
            List<Long> removedLeaves, List<byte[]> proposalRefs, String pathIdentity) {
        MlsWriter w = framedContentHeader(groupId, epoch, new Sender(Sender.Type.MEMBER, senderLeaf))
                .u8(ContentType.COMMIT.value());
        w.vector(proposals -> {
            for (byte[] kp : addKeyPackages) {
                proposals.u8(1).u16(Proposal.ADD).bytes(KeyPackage.decode(kp).bareBytes());
            }
            for (long leaf : removedLeaves) {
                proposals.u8(1).u16(Proposal.REMOVE).u32(leaf);
            }
            for (byte[] ref : proposalRefs) {
                proposals.u8(2).opaque(ref);
            }
        });
        w.optional(pathIdentity != null);
        if (pathIdentity != null) {
            writeCommitLeafNode(w, pathIdentity);
            w.vector(nodes -> { });
        }
        return w.opaque(filler(64)).opaque(filler(FILLER)).opaque(filler(FILLER)).toByteArray();
    }

    /**
     * An external Commit (RFC 9420 §12.4.3.2): a PublicMessage from sender type {@code new_member_commit}
     * with an inline ExternalInit proposal and an UpdatePath; no membership tag.
     */
    public static byte[] externalCommit(byte[] groupId, long epoch) {
        return externalCommit(groupId, epoch, "committer@" + epoch, List.of());
    }

    /** An external Commit whose new leaf's credential identity is {@code identity}, removing {@code removedLeaves} (resync). */
    public static byte[] externalCommit(byte[] groupId, long epoch, String identity, List<Long> removedLeaves) {
        MlsWriter w = framedContentHeader(groupId, epoch, new Sender(Sender.Type.NEW_MEMBER_COMMIT, -1))
                .u8(ContentType.COMMIT.value());
        w.vector(proposals -> {
            proposals.u8(1).u16(Proposal.EXTERNAL_INIT).opaque(filler(32));
            for (long leaf : removedLeaves) {
                proposals.u8(1).u16(Proposal.REMOVE).u32(leaf);
            }
        });
        w.optional(true);
        writeCommitLeafNode(w, identity);
        w.vector(nodes -> { });
        return w.opaque(filler(64)).opaque(filler(FILLER)).toByteArray();
    }

    /** A PublicMessage Remove proposal of {@code removed}, from a member or an external sender. */
    public static byte[] removeProposal(byte[] groupId, long epoch, Sender sender, long removed) {
        MlsWriter w = framedContentHeader(groupId, epoch, sender)
                .u8(ContentType.PROPOSAL.value()).u16(Proposal.REMOVE).u32(removed)
                .opaque(filler(64));
        if (sender.type() == Sender.Type.MEMBER) {
            w.opaque(filler(FILLER));
        }
        return w.toByteArray();
    }

    /**
     * A PublicMessage carrying application data: well-formed, but RFC 9420 §6 forbids it, so a
     * Delivery Service should reject it.
     */
    public static byte[] applicationPublicMessage(byte[] groupId, long epoch, long senderLeaf) {
        return framedContentHeader(groupId, epoch, new Sender(Sender.Type.MEMBER, senderLeaf))
                .u8(ContentType.APPLICATION.value()).opaque("hello".getBytes(StandardCharsets.UTF_8))
                .opaque(filler(64)).opaque(filler(FILLER)).toByteArray();
    }

    /** A PrivateMessage header with the given group, epoch and content type, and filler ciphertext. */
    public static byte[] privateMessage(byte[] groupId, long epoch, ContentType contentType) {
        return header(WireFormat.MLS_PRIVATE_MESSAGE)
                .opaque(groupId).u64(epoch).u8(contentType.value()).opaque(new byte[0])
                .opaque(filler(FILLER)).opaque(filler(80)).toByteArray();
    }

    /** A GroupInfo for the group at {@code epoch}, with an {@code external_pub} extension iff asked. */
    public static byte[] groupInfo(CipherSuite suite, byte[] groupId, long epoch, boolean externalPub) {
        MlsWriter w = header(WireFormat.MLS_GROUP_INFO)
                .u16(KeyPackage.MLS10).u16(suite.id()).opaque(groupId).u64(epoch)
                .opaque(filler(suite.hash().length())).opaque(filler(suite.hash().length()));
        w.vector(ext -> { });
        w.vector(ext -> {
            if (externalPub) {
                new Extension(Extension.EXTERNAL_PUB, filler(TestKeyPackages.kemPublicKeyLength(suite))).write(ext);
            }
        });
        return w.opaque(filler(suite.hash().length())).u32(0).opaque(filler(64)).toByteArray();
    }

    private static MlsWriter header(WireFormat format) {
        return new MlsWriter().u16(KeyPackage.MLS10).u16(format.value());
    }

    private static MlsWriter framedContentHeader(byte[] groupId, long epoch, Sender sender) {
        MlsWriter w = header(WireFormat.MLS_PUBLIC_MESSAGE).opaque(groupId).u64(epoch);
        sender.write(w);
        return w.opaque(new byte[0]);
    }

    private static void writeCommitLeafNode(MlsWriter w, String identity) {
        w.opaque(filler(FILLER)).opaque(filler(FILLER))
                .u16(Credential.BASIC).opaque(identity.getBytes(StandardCharsets.UTF_8))
                .u16List(List.of(KeyPackage.MLS10)).u16List(List.of()).u16List(List.of()).u16List(List.of())
                .u16List(List.of(Credential.BASIC))
                .u8(3).opaque(filler(FILLER))
                .vector(ext -> { })
                .opaque(filler(64));
    }

    private static byte[] filler(int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (0xA5 ^ i);
        }
        return b;
    }
}
