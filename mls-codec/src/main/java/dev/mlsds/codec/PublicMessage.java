package dev.mlsds.codec;

import java.util.List;

/**
 * {@code PublicMessage} (RFC 9420 §6.2): {@code FramedContent}, its auth data and, for member
 * senders, the membership tag. Everything is visible to the Delivery Service, which cannot verify
 * the MACs and can verify the signature only if it tracks the tree.
 *
 * <p>Exactly one of {@code applicationData}, {@code proposal} and {@code commit} is non-null, the one
 * {@code contentType} selects. {@code confirmationTag} is non-null iff the content is a commit;
 * {@code membershipTag} is non-null iff the sender is a member. Byte arrays are shared, not copied.
 */
public record PublicMessage(
        byte[] groupId,
        long epoch,
        Sender sender,
        byte[] authenticatedData,
        ContentType contentType,
        byte[] applicationData,
        Proposal proposal,
        Commit commit,
        byte[] signature,
        byte[] confirmationTag,
        byte[] membershipTag,
        byte[] raw) implements MlsMessage {

    static PublicMessage read(MlsReader r, byte[] raw) {
        byte[] groupId = r.opaque("group_id");
        long epoch = r.u64("epoch");
        Sender sender = Sender.read(r);
        byte[] authenticatedData = r.opaque("authenticated_data");
        ContentType contentType = ContentType.read(r);
        byte[] applicationData = null;
        Proposal proposal = null;
        Commit commit = null;
        switch (contentType) {
            case APPLICATION -> applicationData = r.opaque("application_data");
            case PROPOSAL -> proposal = Proposal.read(r);
            case COMMIT -> commit = Commit.read(r);
        }
        byte[] signature = r.opaque("signature");
        byte[] confirmationTag = contentType == ContentType.COMMIT ? r.opaque("confirmation_tag") : null;
        byte[] membershipTag = sender.type() == Sender.Type.MEMBER ? r.opaque("membership_tag") : null;
        return new PublicMessage(groupId, epoch, sender, authenticatedData, contentType, applicationData, proposal,
                commit, signature, confirmationTag, membershipTag, raw);
    }

    @Override
    public WireFormat wireFormat() {
        return WireFormat.MLS_PUBLIC_MESSAGE;
    }

    @Override
    public byte[] encode() {
        MlsWriter w = MlsWriter.messageHeader(WireFormat.MLS_PUBLIC_MESSAGE);
        w.opaque(groupId).u64(epoch);
        sender.write(w);
        w.opaque(authenticatedData).u8(contentType.value());
        switch (contentType) {
            case APPLICATION -> w.opaque(applicationData);
            case PROPOSAL -> proposal.write(w);
            case COMMIT -> commit.write(w);
        }
        w.opaque(signature);
        if (confirmationTag != null) {
            w.opaque(confirmationTag);
        }
        if (membershipTag != null) {
            w.opaque(membershipTag);
        }
        return w.toByteArray();
    }

    /** The KeyPackages this message adds: those of inline Add proposals of a commit, or of an Add proposal. */
    public List<KeyPackage> addedKeyPackages() {
        if (proposal instanceof Proposal.Add add) {
            return List.of(add.keyPackage());
        }
        if (commit == null) {
            return List.of();
        }
        return commit.proposals().stream()
                .filter(p -> p instanceof ProposalOrRef.Inline inline && inline.proposal() instanceof Proposal.Add)
                .map(p -> ((Proposal.Add) ((ProposalOrRef.Inline) p).proposal()).keyPackage())
                .toList();
    }
}
