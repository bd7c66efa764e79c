package dev.mlsds.codec;

import java.util.List;

/**
 * {@code GroupInfo} (RFC 9420 §12.4.3): the group's context, extensions (an {@code external_pub}
 * one enables external joins, a {@code ratchet_tree} one carries the tree), confirmation tag and
 * signer leaf index. Byte arrays are shared, not copied.
 */
public record GroupInfo(
        GroupContext groupContext,
        List<Extension> extensions,
        byte[] confirmationTag,
        long signer,
        byte[] signature,
        byte[] raw) implements MlsMessage {

    static GroupInfo read(MlsReader r, byte[] raw) {
        GroupContext context = GroupContext.read(r);
        List<Extension> extensions = Extension.readList(r, "group_info.extensions");
        byte[] confirmationTag = r.opaque("confirmation_tag");
        long signer = r.u32("signer");
        return new GroupInfo(context, extensions, confirmationTag, signer, r.opaque("signature"), raw);
    }

    public byte[] groupId() {
        return groupContext.groupId();
    }

    public long epoch() {
        return groupContext.epoch();
    }

    public int cipherSuite() {
        return groupContext.cipherSuite();
    }

    /** Whether the GroupInfo carries an {@code external_pub} extension, i.e. supports an external join. */
    public boolean hasExternalPub() {
        return Extension.contains(extensions, Extension.EXTERNAL_PUB);
    }

    /** Whether the GroupInfo carries the ratchet tree inline. */
    public boolean hasRatchetTree() {
        return Extension.contains(extensions, Extension.RATCHET_TREE);
    }

    @Override
    public WireFormat wireFormat() {
        return WireFormat.MLS_GROUP_INFO;
    }

    @Override
    public byte[] encode() {
        MlsWriter w = MlsWriter.messageHeader(WireFormat.MLS_GROUP_INFO);
        groupContext.write(w);
        Extension.writeList(w, extensions);
        return w.opaque(confirmationTag).u32(signer).opaque(signature).toByteArray();
    }
}
