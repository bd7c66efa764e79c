package dev.mlsds.codec;

import java.util.List;

/** {@code GroupContext} (RFC 9420 §8.1). Byte arrays are shared, not copied. */
public record GroupContext(
        int version,
        int cipherSuite,
        byte[] groupId,
        long epoch,
        byte[] treeHash,
        byte[] confirmedTranscriptHash,
        List<Extension> extensions) {

    public static GroupContext read(MlsReader r) {
        int version = r.u16("group_context.version");
        int cipherSuite = r.u16("group_context.cipher_suite");
        byte[] groupId = r.opaque("group_context.group_id");
        long epoch = r.u64("group_context.epoch");
        byte[] treeHash = r.opaque("group_context.tree_hash");
        byte[] confirmed = r.opaque("group_context.confirmed_transcript_hash");
        return new GroupContext(version, cipherSuite, groupId, epoch, treeHash, confirmed,
                Extension.readList(r, "group_context.extensions"));
    }

    public void write(MlsWriter w) {
        w.u16(version).u16(cipherSuite).opaque(groupId).u64(epoch).opaque(treeHash).opaque(confirmedTranscriptHash);
        Extension.writeList(w, extensions);
    }
}
