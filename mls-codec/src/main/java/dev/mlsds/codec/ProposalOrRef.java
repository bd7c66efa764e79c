package dev.mlsds.codec;

import java.util.OptionalInt;

/** {@code ProposalOrRef} (RFC 9420 §12.4): a proposal inline in a Commit, or a reference to one sent earlier. */
public sealed interface ProposalOrRef {
    /** The proposal type if inline; a reference does not reveal it. */
    OptionalInt proposalType();

    void write(MlsWriter w);

    record Inline(Proposal proposal) implements ProposalOrRef {
        @Override
        public OptionalInt proposalType() {
            return OptionalInt.of(proposal.type());
        }

        @Override
        public void write(MlsWriter w) {
            w.u8(1);
            proposal.write(w);
        }
    }

    /** {@code ref} is a ProposalRef (RefHash over the proposal's AuthenticatedContent); shared, do not modify. */
    record Reference(byte[] ref) implements ProposalOrRef {
        @Override
        public OptionalInt proposalType() {
            return OptionalInt.empty();
        }

        @Override
        public void write(MlsWriter w) {
            w.u8(2).opaque(ref);
        }
    }

    static ProposalOrRef read(MlsReader r) {
        int at = r.position();
        int type = r.u8("proposal_or_ref.type");
        return switch (type) {
            case 1 -> new Inline(Proposal.read(r));
            case 2 -> new Reference(r.opaque("proposal_ref"));
            default -> throw new MlsDecodeException("proposal_or_ref.type: unknown value " + type, at);
        };
    }
}
