package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.codec.testing.TestMessages;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The test-support builders produce what they promise, so server tests built on them mean something. */
class TestSupportTest {
    private static final CipherSuite SUITE_1 = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
    private static final byte[] GROUP = {(byte) 0xAB, (byte) 0xCD, 0x01};

    @Test
    void welcomeNamesTheGivenRefs() {
        byte[] ref1 = KeyPackage.decode(TestKeyPackages.valid("did:plc:a")).ref();
        byte[] ref2 = KeyPackage.decode(TestKeyPackages.valid("did:plc:b")).ref();
        Welcome welcome = (Welcome) MlsMessage.decode(TestMessages.welcome(SUITE_1, List.of(ref1, ref2)));
        assertThat(welcome.cipherSuite()).isEqualTo(1);
        assertThat(welcome.newMembers()).containsExactly(ref1, ref2);
    }

    @Test
    void commitCarriesAddsRemovesAndPath() {
        byte[] kp = TestKeyPackages.valid("did:plc:bob");
        PublicMessage m = (PublicMessage) MlsMessage.decode(TestMessages.commit(GROUP, 41, 3, List.of(kp), List.of(5L), true));
        assertThat(m.groupId()).isEqualTo(GROUP);
        assertThat(m.epoch()).isEqualTo(41);
        assertThat(m.sender()).isEqualTo(new Sender(Sender.Type.MEMBER, 3));
        assertThat(m.contentType()).isEqualTo(ContentType.COMMIT);
        assertThat(m.commit().hasPath()).isTrue();
        assertThat(m.commit().path().leafNode().source()).isEqualTo(LeafNode.Source.COMMIT);
        assertThat(m.commit().proposals()).hasSize(2);
        assertThat(m.addedKeyPackages()).singleElement()
                .satisfies(added -> assertThat(added.ref()).isEqualTo(KeyPackage.decode(kp).ref()));
        assertThat(((Proposal.Remove) ((ProposalOrRef.Inline) m.commit().proposals().get(1)).proposal()).removed()).isEqualTo(5);
        assertThat(m.membershipTag()).isNotNull();
        assertThat(m.confirmationTag()).isNotNull();
        assertThat(((PublicMessage) MlsMessage.decode(TestMessages.commit(GROUP, 0, 0, List.of(), List.of(), false)))
                .commit().hasPath()).isFalse();
    }

    @Test
    void externalCommitComesFromANewMemberWithExternalInitAndPath() {
        PublicMessage m = (PublicMessage) MlsMessage.decode(TestMessages.externalCommit(GROUP, 6));
        assertThat(m.sender()).isEqualTo(new Sender(Sender.Type.NEW_MEMBER_COMMIT, -1));
        assertThat(m.epoch()).isEqualTo(6);
        assertThat(m.commit().proposals()).singleElement()
                .satisfies(p -> assertThat(p.proposalType()).hasValue(Proposal.EXTERNAL_INIT));
        assertThat(m.commit().hasPath()).isTrue();
        assertThat(m.membershipTag()).isNull();
    }

    @Test
    void proposalsAndApplicationMessages() {
        PublicMessage external = (PublicMessage) MlsMessage.decode(
                TestMessages.removeProposal(GROUP, 2, new Sender(Sender.Type.EXTERNAL, 0), 4));
        assertThat(external.contentType()).isEqualTo(ContentType.PROPOSAL);
        assertThat(external.proposal()).isEqualTo(new Proposal.Remove(4));
        assertThat(external.membershipTag()).isNull();
        PublicMessage app = (PublicMessage) MlsMessage.decode(TestMessages.applicationPublicMessage(GROUP, 2, 1));
        assertThat(app.contentType()).isEqualTo(ContentType.APPLICATION);
    }

    @Test
    void privateMessageAndGroupInfoHeaders() {
        PrivateMessage p = (PrivateMessage) MlsMessage.decode(TestMessages.privateMessage(GROUP, -1L, ContentType.COMMIT));
        assertThat(p.groupId()).isEqualTo(GROUP);
        assertThat(p.epoch()).isEqualTo(-1L);
        assertThat(p.contentType()).isEqualTo(ContentType.COMMIT);
        for (boolean externalPub : new boolean[] {true, false}) {
            GroupInfo g = (GroupInfo) MlsMessage.decode(TestMessages.groupInfo(
                    CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256, GROUP, 9, externalPub));
            assertThat(g.groupId()).isEqualTo(GROUP);
            assertThat(g.epoch()).isEqualTo(9);
            assertThat(g.cipherSuite()).isEqualTo(2);
            assertThat(g.hasExternalPub()).isEqualTo(externalPub);
        }
    }

    @Test
    void signingKeysAreReusableAcrossKeyPackages() {
        SigningKey key = SigningKey.generate(SUITE_1);
        KeyPackage a = TestKeyPackages.builder(SUITE_1, "did:plc:a").signingKey(key).buildDecoded();
        KeyPackage b = TestKeyPackages.builder(SUITE_1, "did:plc:a").signingKey(key).buildDecoded();
        assertThat(a.leafNode().signatureKey()).isEqualTo(key.publicKey()).isEqualTo(b.leafNode().signatureKey());
        assertThat(a.deviceId()).isEqualTo(b.deviceId());
        assertThat(a.ref()).isNotEqualTo(b.ref());
    }
}
