package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.testing.TestKeyPackages;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.LifeTime;
import org.bouncycastle.mls.codec.Capabilities;
import org.bouncycastle.mls.codec.Credential;
import org.bouncycastle.mls.codec.Extension;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.Proposal;
import org.bouncycastle.mls.codec.WireFormat;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.Group;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Cross-check against an independent MLS implementation, Bouncy Castle's {@code bcmls}: KeyPackages
 * it generates get the same KeyPackageRef from us and validate; a Welcome from a real Commit that adds
 * them names exactly our refs; and Bouncy Castle accepts the KeyPackages our test support builds,
 * with the same ref.
 */
class BouncyCastleCrossCheckTest {
    private static final String LABEL = "MLS 1.0 KeyPackage Reference";
    /** bcmls's default LifeTime is 0 .. 2^64-1. */
    private static final KeyPackageValidator VALIDATOR = new KeyPackageValidator(Clock.systemUTC(),
            KeyPackagePolicy.defaults().withMaxLifetime(KeyPackagePolicy.UNBOUNDED_LIFETIME));

    private record BcKeyPackage(KeyPackage keyPackage, byte[] framed, byte[] ref) {
    }

    private static BcKeyPackage bcKeyPackage(MlsCipherSuite suite, String identity) throws Exception {
        AsymmetricCipherKeyPair init = suite.getHPKE().generatePrivateKey();
        AsymmetricCipherKeyPair encryption = suite.getHPKE().generatePrivateKey();
        AsymmetricCipherKeyPair signature = suite.generateSignatureKeyPair();
        byte[] signaturePrivate = suite.serializeSignaturePrivateKey(signature.getPrivate());
        LeafNode leaf = new LeafNode(suite, suite.getHPKE().serializePublicKey(encryption.getPublic()),
                suite.serializeSignaturePublicKey(signature.getPublic()),
                Credential.forBasic(identity.getBytes(StandardCharsets.UTF_8)), new Capabilities(), new LifeTime(),
                new ArrayList<Extension>(), signaturePrivate);
        KeyPackage kp = new KeyPackage(suite, suite.getHPKE().serializePublicKey(init.getPublic()), leaf,
                new ArrayList<Extension>(), signaturePrivate);
        byte[] bare = MLSOutputStream.encode(kp);
        return new BcKeyPackage(kp, MLSOutputStream.encode(MLSMessage.keyPackage(kp)), suite.refHash(bare, LABEL));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7})
    void bcKeyPackagesAndWelcomeAgreeWithOurRefs(int suiteId) throws Exception {
        MlsCipherSuite suite = MlsCipherSuite.getSuite((short) suiteId);
        BcKeyPackage bob = bcKeyPackage(suite, "did:plc:bob");
        BcKeyPackage carol = bcKeyPackage(suite, "did:plc:carol");

        for (BcKeyPackage bc : List.of(bob, carol)) {
            ValidatedKeyPackage ours = VALIDATOR.validate(bc.framed(), null);
            assertThat(ours.ref()).as("suite %d ref", suiteId).isEqualTo(bc.ref());
            assertThat(ours.keyPackage().encode()).isEqualTo(bc.framed());
        }

        // Alice creates a group and commits adding Bob and Carol; the Welcome must name their refs.
        AsymmetricCipherKeyPair aliceLeaf = suite.getHPKE().generatePrivateKey();
        AsymmetricCipherKeyPair aliceSig = suite.generateSignatureKeyPair();
        byte[] aliceSigPrivate = suite.serializeSignaturePrivateKey(aliceSig.getPrivate());
        LeafNode aliceNode = new LeafNode(suite, suite.getHPKE().serializePublicKey(aliceLeaf.getPublic()),
                suite.serializeSignaturePublicKey(aliceSig.getPublic()),
                Credential.forBasic("did:plc:alice".getBytes(StandardCharsets.UTF_8)), new Capabilities(),
                new LifeTime(), new ArrayList<Extension>(), aliceSigPrivate);
        byte[] groupId = new byte[16];
        new SecureRandom().nextBytes(groupId);
        Group group = new Group(groupId, suite, aliceLeaf, aliceSigPrivate, aliceNode.copy(aliceNode.getEncryptionKey()),
                new ArrayList<Extension>());
        byte[] leafSecret = new byte[suite.getKDF().getHashLength()];
        new SecureRandom().nextBytes(leafSecret);
        Group.GroupWithMessage result = group.commit(new Secret(leafSecret),
                new Group.CommitOptions(List.of(Proposal.add(bob.keyPackage()), Proposal.add(carol.keyPackage())),
                        true, true, null),
                new Group.MessageOptions(false, new byte[0], 0),
                new Group.CommitParameters(Group.NORMAL_COMMIT_PARAMS));
        byte[] commitBytes = MLSOutputStream.encode(result.message);
        result.message.wireFormat = WireFormat.mls_welcome;
        byte[] welcomeBytes = MLSOutputStream.encode(result.message);

        Welcome welcome = (Welcome) MlsMessage.decode(welcomeBytes);
        assertThat(welcome.cipherSuite()).isEqualTo(suiteId);
        assertThat(welcome.newMembers()).containsExactlyInAnyOrder(bob.ref(), carol.ref());
        assertThat(welcome.encode()).isEqualTo(welcomeBytes);

        PublicMessage commit = (PublicMessage) MlsMessage.decode(commitBytes);
        assertThat(commit.groupId()).isEqualTo(groupId);
        assertThat(commit.epoch()).isZero();
        assertThat(commit.contentType()).isEqualTo(ContentType.COMMIT);
        assertThat(commit.commit().hasPath()).isTrue();
        assertThat(commit.addedKeyPackages()).extracting(dev.mlsds.codec.KeyPackage::ref)
                .containsExactlyInAnyOrder(bob.ref(), carol.ref());
        assertThat(commit.encode()).isEqualTo(commitBytes);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7})
    void bcAcceptsOurKeyPackagesWithTheSameRef(int suiteId) throws Exception {
        CipherSuite ours = CipherSuite.byId(suiteId).orElseThrow();
        Instant now = Instant.now();
        // No last_resort extension here: bcmls 1.84 re-encodes extension type 0x000A as 0x4A4A and then
        // verifies its re-serialisation, so it rejects such KeyPackages. We verify the received bytes.
        byte[] framed = TestKeyPackages.builder(ours, "did:plc:dave")
                .lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(7))).build();
        MLSMessage parsed = (MLSMessage) MLSInputStream.decode(framed, MLSMessage.class);
        assertThat(parsed.keyPackage.verify()).as("bcmls verifies our KeyPackageTBS (and LeafNodeTBS) signature").isTrue();
        LeafNode leaf = parsed.keyPackage.getLeafNode();
        assertThat(leaf.verify(parsed.keyPackage.getSuite(), leaf.toBeSigned(new byte[0], -1)))
                .as("bcmls verifies our LeafNodeTBS signature").isTrue();
        MlsCipherSuite suite = MlsCipherSuite.getSuite((short) suiteId);
        assertThat(suite.refHash(MLSOutputStream.encode(parsed.keyPackage), LABEL))
                .isEqualTo(dev.mlsds.codec.KeyPackage.decode(framed).ref());
        assertThat(MLSOutputStream.encode(parsed)).as("bcmls re-encodes our bytes exactly").isEqualTo(framed);
    }
}
