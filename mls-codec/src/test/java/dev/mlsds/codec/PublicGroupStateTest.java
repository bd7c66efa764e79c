package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestHandshakes;
import dev.mlsds.codec.testing.TestKeyPackages;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link PublicGroupState} with the test builders ({@link TestHandshakes}, which the server tests use): what
 * they build is accepted, and a wrong key, a stranger's GroupInfo or a state that does not decode is refused.
 */
class PublicGroupStateTest {
    private static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

    private static SigningKey key() {
        return SigningKey.generate(SUITE);
    }

    @Test
    void builtHandshakesAreAcceptedAndForgeriesRefused() {
        SigningKey alice = key();
        SigningKey bob = key();
        SigningKey carol = key();
        byte[] g = new byte[16];
        byte[] bobKp = TestKeyPackages.builder(SUITE, "did:plc:bob").signingKey(bob).build();
        byte[] carolKp = TestKeyPackages.builder(SUITE, "did:plc:carol").signingKey(carol).build();
        PublicGroupState s1 = TestHandshakes.firstCommit(SUITE, g, "did:plc:alice", alice, List.of(bobKp, carolKp)).next();
        assertThat(s1.epoch()).isEqualTo(1);
        assertThat(s1.leafCount()).isEqualTo(4);
        assertThat(s1.leaf(2).orElseThrow().signatureKey()).isEqualTo(carol.publicKey());
        byte[] firstInfo = TestHandshakes.firstCommit(SUITE, g, "did:plc:alice", alice, List.of(bobKp, carolKp)).groupInfo();
        assertThatThrownBy(() -> PublicGroupState.fromGroupInfo((GroupInfo) MlsMessage.decode(firstInfo), 2))
                .isInstanceOf(PublicTreeException.class).hasMessageContaining("more than the 2");

        TestHandshakes.Made byBob = TestHandshakes.commit(s1, bob, 1, List.of(), List.of(), List.of(), "did:plc:bob");
        assertThat(byBob.next()).isNotNull();
        s1.checkGroupInfo((GroupInfo) MlsMessage.decode(TestHandshakes.groupInfo(s1, alice, 0, true)));
        byBob.next().checkGroupInfo((GroupInfo) MlsMessage.decode(byBob.groupInfo()));

        // Bob's commit signed with Carol's key, and Bob's commit from Carol's leaf signed by Bob: both refused.
        TestHandshakes.Made forged = TestHandshakes.commit(s1, carol, 1, List.of(), List.of(), List.of(), "did:plc:bob");
        assertThat(forged.next()).isNull();
        assertThatThrownBy(() -> s1.applyCommit((PublicMessage) MlsMessage.decode(forged.message()), List.of()))
                .isInstanceOfSatisfying(PublicTreeException.class, e -> assertThat(e.kind()).isEqualTo(PublicTreeException.Kind.SIGNATURE));
        TestHandshakes.Made asCarol = TestHandshakes.commit(s1, bob, 2, List.of(), List.of(), List.of(), "did:plc:bob");
        assertThat(asCarol.next()).isNull();

        // A GroupInfo of the old epoch does not describe the new one; one signed by a non-member key is refused.
        assertThatThrownBy(() -> byBob.next().checkGroupInfo((GroupInfo) MlsMessage.decode(TestHandshakes.groupInfo(s1, alice, 0, false))))
                .isInstanceOf(PublicTreeException.class);
        assertThatThrownBy(() -> s1.checkGroupInfo((GroupInfo) MlsMessage.decode(TestHandshakes.groupInfo(s1, key(), 0, false))))
                .isInstanceOfSatisfying(PublicTreeException.class, e -> assertThat(e.kind()).isEqualTo(PublicTreeException.Kind.SIGNATURE));

        // A referenced Remove proposal, verified, then committed; an external rejoin lands at the blank leaf.
        PublicGroupState s2 = byBob.next();
        byte[] proposal = TestHandshakes.removeProposal(s2, bob, 1, 2);
        s2.verifyProposal((PublicMessage) MlsMessage.decode(proposal));
        assertThatThrownBy(() -> s2.verifyProposal((PublicMessage) MlsMessage.decode(TestHandshakes.removeProposal(s2, carol, 1, 2))))
                .isInstanceOf(PublicTreeException.class);
        PublicGroupState s3 = TestHandshakes.commit(s2, alice, 0, List.of(), List.of(), List.of(proposal), "did:plc:alice").next();
        assertThat(s3.leaf(2)).isEmpty();
        assertThat(s3.leafCount()).isEqualTo(2);
        PublicGroupState s4 = TestHandshakes.externalCommit(s3, carol, "did:plc:carol", List.of()).next();
        assertThat(s4.leaf(2).orElseThrow().signatureKey()).isEqualTo(carol.publicKey());
        assertThat(PublicGroupState.decode(s4.encode()).treeHash()).isEqualTo(s4.treeHash());
        assertThatThrownBy(() -> PublicGroupState.decode(java.util.Arrays.copyOf(s4.encode(), 40)))
                .isInstanceOf(MlsDecodeException.class);
    }

    /** Any bit flipped in a real commit or GroupInfo: decoded, it is accepted or refused with a PublicTreeException, never anything else. */
    @Test
    void flippedBitsAreRefusedCleanly() {
        SigningKey alice = key();
        SigningKey bob = key();
        byte[] g = new byte[16];
        byte[] bobKp = TestKeyPackages.builder(SUITE, "did:plc:bob").signingKey(bob).build();
        byte[] carolKp = TestKeyPackages.builder(SUITE, "did:plc:carol").build();
        PublicGroupState s1 = TestHandshakes.firstCommit(SUITE, g, "did:plc:alice", alice, List.of(bobKp, carolKp)).next();
        byte[] daveKp = TestKeyPackages.builder(SUITE, "did:plc:dave").build();
        TestHandshakes.Made made = TestHandshakes.commit(s1, bob, 1, List.of(daveKp), List.of(2L), List.of(), "did:plc:bob");
        assertThat(made.next()).isNotNull();
        java.util.Random random = new java.util.Random(42);
        int accepted = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] bytes = (i % 2 == 0 ? made.message() : made.groupInfo()).clone();
            int bit = random.nextInt(bytes.length * 8);
            bytes[bit / 8] ^= (byte) (1 << (bit % 8));
            MlsMessage m;
            try {
                m = MlsMessage.decode(bytes);
            } catch (MlsDecodeException e) {
                continue;
            }
            try {
                if (m instanceof PublicMessage pm && pm.commit() != null) {
                    List<PublicGroupState.Proposed> proposed = pm.commit().proposals().stream()
                            .filter(p -> p instanceof ProposalOrRef.Inline)
                            .map(p -> new PublicGroupState.Proposed(((ProposalOrRef.Inline) p).proposal(), 1))
                            .toList();
                    s1.applyCommit(pm, proposed);
                } else if (m instanceof GroupInfo gi) {
                    made.next().checkGroupInfo(gi);
                } else if (m instanceof PublicMessage pm) {
                    s1.verifyProposal(pm);
                }
                accepted++;
            } catch (PublicTreeException e) {
                // refused: what we want
            }
        }
        // Only flips in what nobody signs (the filler tags, ignored by a DS) can pass.
        assertThat(accepted).isLessThan(3000 / 4);
    }
}
