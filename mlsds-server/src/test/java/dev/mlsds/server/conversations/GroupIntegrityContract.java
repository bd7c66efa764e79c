package dev.mlsds.server.conversations;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.PublicGroupState;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestHandshakes;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestUser;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Group integrity over HTTP, on every backend: the review's H5 and H6 scenarios (security review 2026-12)
 * each get their documented 4xx under the {@code public} handshake policy, and the conversation stays usable
 * (the next honest commit is accepted). MLS bytes come from the codec's test builders: under {@code public},
 * {@link TestHandshakes} signs them with each user's device key over the group state the test tracks (the
 * server verifies signatures and paths there); under {@code any}, {@link TestMessages} filler.
 *
 * <p>Leaves: Alice creates the group (leaf 0), adds Bob (leaf 1) and Carol (leaf 2).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GroupIntegrityContract {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  Server server;
  TestUser alice;
  TestUser bob;
  TestUser carol;
  TestUser dave;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeAll
  void start() {
    server = dev.mlsds.server.testing.TestServers.start(newDatabaseUrl());
  }

  /** Each user's one device (its signature key signs its leaves and handshakes). */
  final Map<TestUser, TestUser.Device> devices = new java.util.HashMap<>();
  /** Public groups: the state of the latest accepted commit, by group id (hex). */
  final Map<String, PublicGroupState> states = new java.util.HashMap<>();
  /** States that built commits make, by the commit's hex, kept once the server accepts the commit. */
  final Map<String, PublicGroupState> pending = new java.util.HashMap<>();

  @BeforeEach
  void users() {
    alice = TestUser.on(server);
    bob = TestUser.on(server);
    carol = TestUser.on(server);
    dave = TestUser.on(server);
  }

  TestUser.Device dev(TestUser u) {
    return devices.computeIfAbsent(u, TestUser::device);
  }

  SigningKey key(TestUser u) {
    return dev(u).key;
  }

  boolean tracked(byte[] g) {
    return states.containsKey(hex(g));
  }

  PublicGroupState state(byte[] g) {
    return states.get(hex(g));
  }

  /** Remembers what a built message makes, for {@link #track}. */
  byte[] made(TestHandshakes.Made m) {
    if (m.next() != null) {
      pending.put(hex(m.message()), m.next());
    }
    return m.message();
  }

  /** After the server's answer: an accepted commit the test built moves its group's state. */
  Http.Response track(Http.Response r, byte[] commit) {
    PublicGroupState next = commit == null ? null : pending.get(hex(commit));
    if (r.status() == 200 && next != null) {
      states.put(hex(next.context().groupId()), next);
    }
    return r;
  }

  Http.Response post(TestUser u, String method, Map<String, ?> body) {
    Object c = body.get("commit");
    byte[] commit = c instanceof Map<?, ?> m ? java.util.Base64.getDecoder().decode(String.valueOf(m.get("$bytes"))) : null;
    return track(u.post(method, body), commit);
  }

  /**
   * A commit from {@code senderLeaf} signed by {@code signer}: in a public group, really signed over the tracked
   * state (epoch must be the state's); else filler. {@code proposals} are PublicMessage proposals it references.
   */
  byte[] commit(TestUser signer, byte[] g, long epoch, long senderLeaf, List<byte[]> kps, List<Long> removes,
      List<byte[]> proposals, String pathIdentity) {
    if (!tracked(g)) {
      return TestMessages.commit(g, epoch, senderLeaf, kps, removes,
          proposals.stream().map(GroupIntegrityContract::proposalRef).toList(), pathIdentity);
    }
    assertThat(state(g).epoch()).as("the test's epoch").isEqualTo(epoch);
    return made(TestHandshakes.commit(state(g), key(signer), senderLeaf, kps, removes, proposals, pathIdentity));
  }

  byte[] removeProposal(TestUser signer, byte[] g, long epoch, long senderLeaf, long removed) {
    if (!tracked(g)) {
      return TestMessages.removeProposal(g, epoch, new Sender(Sender.Type.MEMBER, senderLeaf), removed);
    }
    return TestHandshakes.removeProposal(state(g), key(signer), senderLeaf, removed);
  }

  @AfterAll
  void stop() {
    server.stop();
    dropDatabase();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  static void refused(Http.Response r, int status, String error) {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.error()).as(r.body()).isEqualTo(error);
  }

  byte[] claimOne(TestUser adder, TestUser target) {
    byte[] kp = dev(target).keyPackage();
    ok(target.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp))))));
    var r = ok(adder.get("getKeyPackages", "dids", target.did().value()));
    return java.util.Base64.getUrlDecoder().decode(r.json().get("keyPackages").get(0).get("keyPackage").asText());
  }

  /** Adds {@code user}; the first commit of a public group comes with the bootstrap GroupInfo (ratchet tree). */
  Http.Response add(TestUser adder, long senderLeaf, byte[] g, long epoch, TestUser user) {
    byte[] kp = claimOne(adder, user);
    byte[] welcome = TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kp).ref()));
    Map<String, Object> body = new java.util.HashMap<>(Map.of("convoId", hex(g), "didList", List.of(user.did().value()),
        "welcome", bytes(welcome)));
    if (publicGroups.contains(hex(g)) && epoch == 0) {
      TestHandshakes.Made first = TestHandshakes.firstCommit(SUITE, g, adder.did().value(), key(adder), List.of(kp));
      body.put("commit", bytes(made(first)));
      body.put("groupInfo", bytes(first.groupInfo()));
    } else {
      body.put("commit", bytes(commit(adder, g, epoch, senderLeaf, List.of(kp), List.of(), List.of(), null)));
    }
    return post(adder, "addMembers", body);
  }

  final java.util.Set<String> publicGroups = new java.util.HashSet<>();

  /** A public conversation of Alice (leaf 0), Bob (1) and Carol (2), at epoch 2. */
  byte[] group(String policy) {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    var created = ok(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name(),
        "handshakePolicy", policy)));
    assertThat(created.json().get("handshakePolicy").asText()).isEqualTo(policy);
    if (policy.equals("public")) {
      publicGroups.add(hex(g));
    }
    ok(add(alice, 0, g, 0, bob));
    ok(add(alice, 0, g, 1, carol));
    return g;
  }

  Http.Response send(TestUser u, byte[] g, byte[] message) {
    return track(u.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(message))), message);
  }

  /** An honest empty commit with an UpdatePath from {@code leaf} of {@code u}. */
  Http.Response honestCommit(TestUser u, long leaf, byte[] g, long epoch) {
    return send(u, g, commit(u, g, epoch, leaf, List.of(), List.of(), List.of(), u.did().value()));
  }

  long epoch(byte[] g) {
    return ok(alice.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong();
  }

  static byte[] proposalRef(byte[] proposal) {
    int tail = 1 + 32; // membership_tag<V> of the test builder
    return SUITE.refHash("MLS 1.0 Proposal Reference".getBytes(StandardCharsets.US_ASCII), proposal, 2,
        proposal.length - 2 - tail);
  }

  // ---- H5 --------------------------------------------------------------------------------------

  /** H5: a junk encrypted "commit" for the current epoch no longer moves a public conversation's epoch. */
  @Test
  void h5_junkPrivateMessageCommitIsRefusedUnderPublic() {
    byte[] g = group("public");
    refused(send(bob, g, TestMessages.privateMessage(g, 2, ContentType.COMMIT)), 400, "InvalidMlsMessage");
    assertThat(epoch(g)).isEqualTo(2);
    ok(honestCommit(alice, 0, g, 2));
    assertThat(epoch(g)).isEqualTo(3);
  }

  /** H5: a junk PublicMessage commit claiming another member's leaf is refused. */
  @Test
  void h5_commitFromAnotherMembersLeafIsRefused() {
    byte[] g = group("public");
    refused(send(bob, g, TestMessages.commit(g, 2, 0, List.of(), List.of(), List.of(), bob.did().value())), 403, "Forbidden");
    refused(send(bob, g, TestMessages.commit(g, 2, 7, List.of(), List.of(), List.of(), bob.did().value())), 400,
        "InvalidMlsMessage");
    ok(honestCommit(alice, 0, g, 2));
  }

  /** Under any, an encrypted commit is still accepted (the server cannot read it): documented, and why reset exists. */
  @Test
  void anyPolicyStillAcceptsEncryptedCommits() {
    byte[] g = group("any");
    ok(send(bob, g, TestMessages.privateMessage(g, 2, ContentType.COMMIT)));
    assertThat(epoch(g)).isEqualTo(3);
  }

  // ---- H6 --------------------------------------------------------------------------------------

  /** H6: a non-admin names an already-left member as targetDid but removes an active member's leaf. */
  @Test
  void h6_removeMemberNamingALeftMemberCannotRemoveSomeoneElse() {
    byte[] g = group("public");
    ok(carol.post("leaveConvo", Map.of("convoId", hex(g))));
    byte[] removeAlice = TestMessages.commit(g, 2, 1, List.of(), List.of(0L), List.of(), bob.did().value());
    refused(bob.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(),
        "commit", bytes(removeAlice))), 403, "Forbidden");
    // Adding through removeMember is refused too.
    byte[] kp = claimOne(bob, dave);
    byte[] smuggledAdd = TestMessages.commit(g, 2, 1, List.of(kp), List.of(2L), List.of(), bob.did().value());
    refused(bob.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(),
        "commit", bytes(smuggledAdd))), 400, "InvalidMlsMessage");
    // The honest removal of the member who left (leaf 2) by a non-admin is accepted.
    byte[] removeCarol = commit(bob, g, 2, 1, List.of(), List.of(2L), List.of(), bob.did().value());
    ok(post(bob, "removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(), "commit", bytes(removeCarol))));
    assertThat(epoch(g)).isEqualTo(3);
  }

  /** An admin's removeMember must remove exactly the target's leaves. */
  @Test
  void h6_removeMemberMustRemoveExactlyTheTargetsLeaves() {
    byte[] g = group("public");
    byte[] wrongLeaf = TestMessages.commit(g, 2, 0, List.of(), List.of(1L), List.of(), alice.did().value());
    refused(alice.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(),
        "commit", bytes(wrongLeaf))), 403, "Forbidden");
    byte[] right = commit(alice, g, 2, 0, List.of(), List.of(2L), List.of(), alice.did().value());
    ok(post(alice, "removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(), "commit", bytes(right))));
  }

  /** H6: sendMessage refuses a commit whose proposals are by reference to a proposal the server never saw. */
  @Test
  void h6_unknownProposalReferenceIsRefused() {
    byte[] g = group("public");
    byte[] unknownRef = new byte[32];
    byte[] commit = TestMessages.commit(g, 2, 1, List.of(), List.of(), List.of(unknownRef), bob.did().value());
    refused(send(bob, g, commit), 400, "InvalidMlsMessage");
    ok(honestCommit(bob, 1, g, 2));
  }

  /** H6: a Remove proposal of an active member, sent earlier, cannot be committed by reference through sendMessage. */
  @Test
  void h6_referencedRemoveOfAnActiveMemberIsRefused() {
    byte[] g = group("public");
    byte[] proposal = removeProposal(bob, g, 2, 1, 0);
    ok(send(bob, g, proposal));
    byte[] commit = commit(bob, g, 2, 1, List.of(), List.of(), List.of(proposal), bob.did().value());
    refused(send(bob, g, commit), 403, "Forbidden");
    // Inline, the same Remove is refused the same way.
    refused(send(bob, g, TestMessages.commit(g, 2, 1, List.of(), List.of(0L), List.of(), bob.did().value())), 403, "Forbidden");
    ok(honestCommit(alice, 0, g, 2));
  }

  /** A referenced Remove of a member who left is resolved and accepted: the leaf roster follows. */
  @Test
  void referencedRemoveOfALeftMemberIsResolvedAndAccepted() {
    byte[] g = group("public");
    ok(carol.post("leaveConvo", Map.of("convoId", hex(g))));
    byte[] proposal = removeProposal(bob, g, 2, 1, 2);
    ok(send(bob, g, proposal));
    byte[] commit = commit(bob, g, 2, 1, List.of(), List.of(), List.of(proposal), bob.did().value());
    ok(send(bob, g, commit));
    // Leaf 2 is blank now: adding Dave puts him there, and a commit from leaf 2 is his.
    ok(add(alice, 0, g, 3, dave));
    ok(honestCommit(dave, 2, g, 4));
  }

  /** H6: sendMessage refuses Adds (through addMembers only) and proposals a commit path does not take. */
  @Test
  void h6_sendMessageRefusesAdds() {
    byte[] g = group("public");
    byte[] kp = claimOne(bob, dave);
    refused(send(bob, g, TestMessages.commit(g, 2, 1, List.of(kp), List.of(), List.of(), bob.did().value())), 400,
        "InvalidMlsMessage");
    ok(honestCommit(bob, 1, g, 2));
  }

  /** H6: an UpdatePath leaf whose credential names another DID is refused. */
  @Test
  void h6_updatePathWithAnotherDidsCredentialIsRefused() {
    byte[] g = group("public");
    refused(send(bob, g, TestMessages.commit(g, 2, 1, List.of(), List.of(), List.of(), alice.did().value())), 403, "Forbidden");
    ok(honestCommit(bob, 1, g, 2));
  }

  /** H6: an external commit whose new leaf's credential names another DID is refused; the caller's own is accepted. */
  @Test
  void h6_externalCommitMustCarryTheCallersCredential() {
    byte[] g = group("public");
    byte[] impersonating = TestMessages.externalCommit(g, 2, "did:plc:someoneelse0000000000000", List.of(1L));
    refused(bob.post("processExternalCommit", Map.of("convoId", hex(g), "commit", bytes(impersonating))), 403, "Forbidden");
    byte[] removesAlice = TestMessages.externalCommit(g, 2, bob.did().value(), List.of(0L));
    refused(bob.post("processExternalCommit", Map.of("convoId", hex(g), "commit", bytes(removesAlice))), 403, "Forbidden");
    byte[] resync = made(TestHandshakes.externalCommit(state(g), key(bob), bob.did().value(), List.of(1L)));
    ok(post(bob, "processExternalCommit", Map.of("convoId", hex(g), "commit", bytes(resync))));
    // Bob's new leaf took his old index (leftmost blank after the Remove).
    ok(honestCommit(bob, 1, g, 3));
  }

  /** H6: a public conversation refuses encrypted proposals, and a proposal sent as another member's leaf. */
  @Test
  void h6_proposalsArePoliced() {
    byte[] g = group("public");
    refused(send(bob, g, TestMessages.privateMessage(g, 2, ContentType.PROPOSAL)), 400, "InvalidMlsMessage");
    refused(send(bob, g, TestMessages.removeProposal(g, 2, new Sender(Sender.Type.MEMBER, 0), 2)), 403, "Forbidden");
    ok(send(bob, g, TestMessages.privateMessage(g, 2, ContentType.APPLICATION)));
  }

  /** Under any, the visible part of a removeMember commit is still checked: it may not add. */
  @Test
  void anyPolicyRemoveMemberMayNotAdd() {
    byte[] g = group("any");
    ok(carol.post("leaveConvo", Map.of("convoId", hex(g))));
    byte[] kp = claimOne(bob, dave);
    byte[] smuggledAdd = TestMessages.commit(g, 2, 1, List.of(kp), List.of(2L), true);
    refused(bob.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(),
        "commit", bytes(smuggledAdd))), 400, "InvalidMlsMessage");
    List<Long> leaves = new ArrayList<>(List.of(2L));
    ok(bob.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(),
        "commit", bytes(TestMessages.commit(g, 2, 1, List.of(), leaves, true)))));
  }

  // ---- signatures and the public group state (docs/conversations.md, "What `public` verifies") ---------

  /** A commit whose signature was tampered with is refused (403); the conversation stays usable. */
  @Test
  void forgedSignatureOnACommitIsRefused() {
    byte[] g = group("public");
    byte[] commit = commit(bob, g, 2, 1, List.of(), List.of(), List.of(), bob.did().value());
    byte[] forged = commit.clone();
    int tags = 2 * (1 + SUITE.hash().length()); // confirmation_tag<V> and membership_tag<V> follow the signature
    forged[forged.length - tags - 1] ^= 1;
    refused(send(bob, g, forged), 403, "Forbidden");
    assertThat(epoch(g)).isEqualTo(2);
    ok(send(bob, g, commit));
    assertThat(epoch(g)).isEqualTo(3);
    ok(honestCommit(carol, 2, g, 3));
  }

  /** Bob's commit from his own leaf but signed with Carol's key is refused: the sender leaf's key must verify. */
  @Test
  void commitSignedByAnotherMembersKeyIsRefused() {
    byte[] g = group("public");
    byte[] signedByCarol = made(TestHandshakes.commit(state(g), key(carol), 1, List.of(), List.of(), List.of(),
        bob.did().value(), key(bob)));
    var r = send(bob, g, signedByCarol);
    refused(r, 403, "Forbidden");
    assertThat(r.body()).contains("signature");
    // A proposal signed with another member's key is refused the same way.
    refused(send(bob, g, TestHandshakes.removeProposal(state(g), key(carol), 1, 2)), 403, "Forbidden");
    ok(honestCommit(bob, 1, g, 2));
  }

  /** An UpdatePath leaf with Bob's credential but a stranger's signature key (none of Bob's devices) is refused. */
  @Test
  void updatePathLeafWithAStrangersSignatureKeyIsRefused() {
    byte[] g = group("public");
    SigningKey stranger = SigningKey.generate(SUITE);
    byte[] commit = made(TestHandshakes.commit(state(g), key(bob), 1, List.of(), List.of(), List.of(),
        bob.did().value(), stranger));
    var r = send(bob, g, commit);
    refused(r, 403, "Forbidden");
    assertThat(r.body()).contains("devices");
    // Once the key is one of Bob's devices (he publishes a KeyPackage with it), the same kind of commit is accepted.
    TestUser.Device second = bob.new Device(stranger);
    ok(bob.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(second.keyPackage()))))));
    ok(send(bob, g, made(TestHandshakes.commit(state(g), key(bob), 1, List.of(), List.of(), List.of(),
        bob.did().value(), stranger))));
    // From now on Bob's leaf has the new key: a commit signed with the old one is refused.
    refused(send(bob, g, commit(bob, g, 3, 1, List.of(), List.of(), List.of(), bob.did().value())), 403, "Forbidden");
  }

  /** A GroupInfo that does not describe the epoch the server computed is refused, on every path that takes one. */
  @Test
  void lyingGroupInfoIsRefused() {
    byte[] g = group("public");
    // A GroupInfo of the current epoch 2, signed by Alice, that claims another tree (that of a commit never sent).
    PublicGroupState other = TestHandshakes.commit(state(g), key(bob), 1, List.of(), List.of(), List.of(), bob.did().value()).next();
    dev.mlsds.codec.GroupContext c = state(g).context();
    byte[] lying = TestHandshakes.groupInfo(new dev.mlsds.codec.GroupContext(c.version(), c.cipherSuite(), c.groupId(),
        c.epoch(), other.treeHash(), c.confirmedTranscriptHash(), c.extensions()), state(g).confirmationTag(), key(alice), 0, true);
    var r = alice.post("updateGroupInfo", Map.of("convoId", hex(g), "groupInfo", bytes(lying)));
    refused(r, 400, "InvalidMlsMessage");
    ok(alice.post("updateGroupInfo", Map.of("convoId", hex(g), "groupInfo",
        bytes(TestHandshakes.groupInfo(state(g), key(alice), 0, true)))));
    // With a commit: a GroupInfo that is not the one of the epoch the commit makes refuses the whole commit.
    byte[] commit = commit(alice, g, 2, 0, List.of(), List.of(2L), List.of(), alice.did().value());
    refused(post(alice, "removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(), "commit",
        bytes(commit), "groupInfo", bytes(TestHandshakes.groupInfo(other, key(bob), 1, true)))), 400, "InvalidMlsMessage");
    assertThat(epoch(g)).isEqualTo(2);
    ok(post(alice, "removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(), "commit", bytes(commit),
        "groupInfo", bytes(TestHandshakes.groupInfo(pending.get(hex(commit)), key(alice), 0, true)))));
    assertThat(epoch(g)).isEqualTo(3);
  }

  /**
   * Two validly signed commits race for one epoch, five rounds: exactly one wins, and the server's state is the
   * winner's (the next commit, signed over the winner's GroupContext, is accepted; the loser's retry is stale).
   */
  @Test
  void racingSignedCommitsLeaveTheWinnersState() throws Exception {
    byte[] g = group("public");
    for (int round = 0; round < 5; round++) {
      long e = epoch(g);
      byte[] byBob = commit(bob, g, e, 1, List.of(), List.of(), List.of(), bob.did().value());
      byte[] byCarol = commit(carol, g, e, 2, List.of(), List.of(), List.of(), carol.did().value());
      java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
      Http.Response rb;
      Http.Response rc;
      try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        var fb = pool.submit(() -> {
          go.await();
          return send(bob, g, byBob);
        });
        var fc = pool.submit(() -> {
          go.await();
          return send(carol, g, byCarol);
        });
        go.countDown();
        rb = fb.get(60, java.util.concurrent.TimeUnit.SECONDS);
        rc = fc.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
      assertThat(List.of(rb.status(), rc.status())).as(rb.body() + " / " + rc.body()).containsExactlyInAnyOrder(200, 409);
      refused(rb.status() == 409 ? rb : rc, 409, "StaleEpoch");
      assertThat(state(g).epoch()).isEqualTo(e + 1);
      ok(honestCommit(alice, 0, g, e + 1));
    }
  }

  /** The first commit of a public group must come with a GroupInfo carrying the ratchet tree. */
  @Test
  void firstCommitOfAPublicGroupNeedsTheRatchetTree() {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    ok(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name(), "handshakePolicy", "public")));
    byte[] kp = claimOne(alice, bob);
    byte[] welcome = TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kp).ref()));
    byte[] commit = TestMessages.commit(g, 0, 0, List.of(kp), List.of(), false);
    Map<String, Object> body = new java.util.HashMap<>(Map.of("convoId", hex(g), "didList", List.of(bob.did().value()),
        "commit", bytes(commit), "welcome", bytes(welcome)));
    refused(alice.post("addMembers", body), 400, "InvalidRequest");
    body.put("groupInfo", bytes(TestMessages.groupInfo(SUITE, g, 1, true)));
    refused(alice.post("addMembers", body), 400, "InvalidMlsMessage");
    // A tree whose leaf 1 is not the KeyPackage the commit adds is refused too.
    byte[] otherKp = TestUser.on(server).device().keyPackage();
    body.put("groupInfo", bytes(TestHandshakes.firstCommit(SUITE, g, alice.did().value(), key(alice), List.of(otherKp)).groupInfo()));
    refused(alice.post("addMembers", body), 400, "InvalidMlsMessage");
    body.put("groupInfo", bytes(TestHandshakes.firstCommit(SUITE, g, alice.did().value(), key(alice), List.of(kp)).groupInfo()));
    ok(alice.post("addMembers", body));
    assertThat(epoch(g)).isEqualTo(1);
  }

  // ---- roles and reports -----------------------------------------------------------------------

  /** L4: the creator is admin; admins promote, demote and set adminOnlyAdds; the last admin cannot be demoted. */
  @Test
  void rolesPromoteDemoteAndAdminOnlyAdds() {
    byte[] g = group("public");
    String id = hex(g);
    refused(bob.post("promoteAdmin", Map.of("convoId", id, "targetDid", carol.did().value())), 403, "NotAdmin");
    refused(bob.post("updateConvoPolicy", Map.of("convoId", id, "adminOnlyAdds", true)), 403, "NotAdmin");
    assertThat(ok(alice.post("promoteAdmin", Map.of("convoId", id, "targetDid", bob.did().value())))
        .json().get("role").asText()).isEqualTo("admin");
    assertThat(ok(bob.post("updateConvoPolicy", Map.of("convoId", id, "adminOnlyAdds", true)))
        .json().get("adminOnlyAdds").asBoolean()).isTrue();
    ok(bob.post("demoteAdmin", Map.of("convoId", id, "targetDid", alice.did().value())));
    refused(bob.post("demoteAdmin", Map.of("convoId", id, "targetDid", bob.did().value())), 400, "InvalidRequest");
    // Alice is no longer admin: under adminOnlyAdds her add is refused, Bob's is accepted.
    refused(add(alice, 0, g, 2, dave), 403, "NotAdmin");
    ok(add(bob, 1, g, 2, dave));
    var view = ok(carol.get("getConvos")).json().get("conversations").get(0);
    assertThat(view.get("adminOnlyAdds").asBoolean()).isTrue();
    for (var m : view.get("members")) {
      String expected = m.get("did").asText().equals(bob.did().value()) ? "admin" : "member";
      assertThat(m.get("role").asText()).as(m.get("did").asText()).isEqualTo(expected);
    }
  }

  /** A member reports a commit it cannot process: the answer names its sender; each reporter counts once. */
  @Test
  void reportUnprocessableCommitNamesTheSender() {
    byte[] g = group("any");
    long seq = ok(send(carol, g, TestMessages.privateMessage(g, 2, ContentType.COMMIT))).json().get("seq").asLong();
    var r = ok(bob.post("reportUnprocessableCommit", Map.of("convoId", hex(g), "seq", seq, "reason", "bad tag")));
    assertThat(r.json().get("senderDid").asText()).isEqualTo(carol.did().value());
    assertThat(r.json().get("epoch").asLong()).isEqualTo(2);
    assertThat(r.json().get("reportCount").asInt()).isEqualTo(1);
    ok(bob.post("reportUnprocessableCommit", Map.of("convoId", hex(g), "seq", seq)));
    var again = ok(alice.post("reportUnprocessableCommit", Map.of("convoId", hex(g), "seq", seq)));
    assertThat(again.json().get("reportCount").asInt()).isEqualTo(2);
    refused(alice.post("reportUnprocessableCommit", Map.of("convoId", hex(g), "seq", seq + 100)), 404, "NotFound");
    refused(dave.post("reportUnprocessableCommit", Map.of("convoId", hex(g), "seq", seq)), 403, "NotMember");
  }

  /** L2: msgId deduplicates per sender: another member's equal msgId does not swallow the caller's message. */
  @Test
  void l2_msgIdIsScopedToTheSender() {
    byte[] g = group("public");
    byte[] m1 = TestMessages.privateMessage(g, 2, ContentType.APPLICATION);
    var a = ok(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m1), "msgId", "m-1")));
    var b = ok(bob.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m1), "msgId", "m-1")));
    assertThat(b.json().get("seq").asLong()).isEqualTo(a.json().get("seq").asLong() + 1);
    var again = ok(bob.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m1), "msgId", "m-1")));
    assertThat(again.json().get("seq").asLong()).isEqualTo(b.json().get("seq").asLong());
  }
  // ---- group reset (docs/conversations.md, "Group reset") ------------------------------------------

  static byte[] newGroupId() {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    return g;
  }

  /** The body of a reset of {@code g} (at {@code fromEpoch}) to {@code g2} by {@code admin} (leaf 0), re-adding {@code users}. */
  Map<String, Object> resetBody(TestUser admin, byte[] g, long fromEpoch, byte[] g2, List<TestUser> users) {
    List<byte[]> kps = new ArrayList<>();
    for (TestUser u : users) {
      kps.add(claimOne(admin, u));
    }
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    Map<String, Object> body = new java.util.HashMap<>(Map.of("convoId", hex(g), "fromGroupId", hex(g), "fromEpoch", fromEpoch,
        "groupId", hex(g2), "didList", users.stream().map(u -> u.did().value()).toList(), "welcome", bytes(welcome)));
    if (publicGroups.contains(hex(g))) {
      // Under public the new group's first commit comes with the bootstrap GroupInfo (ratchet tree), as at creation.
      TestHandshakes.Made first = TestHandshakes.firstCommit(SUITE, g2, admin.did().value(), key(admin), kps);
      body.put("commit", bytes(made(first)));
      body.put("groupInfo", bytes(first.groupInfo()));
    } else {
      body.put("commit", bytes(TestMessages.commit(g2, 0, 0, kps, List.of(), List.of(), admin.did().value())));
    }
    return body;
  }

  long latestSeq(byte[] g) {
    return ok(alice.get("getMessages", "convoId", hex(g), "sinceSeq", "0", "limit", "500")).json().get("lastSeq").asLong();
  }

  /**
   * H5 under {@code any}: a junk encrypted commit kills the epoch; the admin resets the group; messages and
   * commits for the old group are refused with 409 GroupReset, the new group works, the old log stays readable.
   */
  @Test
  void reset_recoversABrokenEpochUnderAny() {
    byte[] g = group("any");
    ok(send(alice, g, TestMessages.privateMessage(g, 2, ContentType.APPLICATION)));
    ok(send(bob, g, TestMessages.privateMessage(g, 2, ContentType.COMMIT))); // junk: nobody can process it
    long before = latestSeq(g);
    byte[] g2 = newGroupId();
    var r = ok(alice.post("resetGroup", resetBody(alice, g, 3, g2, List.of(bob, carol))));
    assertThat(r.json().get("groupId").asText()).isEqualTo(hex(g2));
    assertThat(r.json().get("epoch").asLong()).isEqualTo(1);
    assertThat(r.json().get("resetSeq").asLong()).isEqualTo(before + 1);
    assertThat(r.json().get("welcomeRecipients")).hasSize(2);
    assertThat(r.json().get("removed")).isEmpty();
    assertThat(epoch(g)).isEqualTo(1);
    var convo = ok(bob.get("getConvos")).json().get("conversations").get(0);
    assertThat(convo.get("id").asText()).isEqualTo(hex(g));
    assertThat(convo.get("groupId").asText()).isEqualTo(hex(g2));
    // The old group is closed: its messages and commits get the documented conflict naming the new group.
    var old = send(carol, g, TestMessages.privateMessage(g, 3, ContentType.APPLICATION));
    refused(old, 409, "GroupReset");
    assertThat(old.json().get("groupId").asText()).isEqualTo(hex(g2));
    assertThat(old.json().get("resetSeq").asLong()).isEqualTo(before + 1);
    refused(send(bob, g, TestMessages.privateMessage(g, 3, ContentType.COMMIT)), 409, "GroupReset");
    refused(send(bob, g, TestMessages.privateMessage(newGroupId(), 1, ContentType.APPLICATION)), 400, "WrongGroup");
    // Each re-added member gets the Welcome to the new group (the old group's open ones are cancelled).
    var welcome = ok(bob.get("getWelcome", "convoId", hex(g), "deviceId",
        r.json().get("welcomeRecipients").get(0).get("deviceId").asText()));
    assertThat(welcome.json().get("keyPackageRef").asText())
        .isEqualTo(r.json().get("welcomeRecipients").get(0).get("keyPackageRef").asText());
    // The new group works; getCommits covers only its commits; the history before the reset is readable.
    ok(send(carol, g, TestMessages.privateMessage(g2, 1, ContentType.APPLICATION)));
    assertThat(ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "1")).json().get("commits")).isEmpty();
    ok(send(bob, g, TestMessages.privateMessage(g2, 1, ContentType.COMMIT)));
    var commits = ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "1")).json().get("commits");
    assertThat(commits).hasSize(1);
    assertThat(commits.get(0).get("epoch").asLong()).isEqualTo(2);
    var log = ok(bob.get("getMessages", "convoId", hex(g), "sinceSeq", "0", "limit", "500")).json().get("messages");
    List<Long> seqs = new ArrayList<>();
    log.forEach(m -> seqs.add(m.get("seq").asLong()));
    // Bob joined at seq 1: he reads the old group's log (2..before), the reset's commit, and the new group's two.
    assertThat(seqs).isEqualTo(java.util.stream.LongStream.rangeClosed(2, before + 3).boxed().toList());
    refused(alice.post("updateGroupInfo", Map.of("convoId", hex(g), "groupInfo", bytes(TestMessages.groupInfo(SUITE, g, 3, true)))),
        409, "GroupReset");
    ok(alice.post("updateGroupInfo", Map.of("convoId", hex(g), "groupInfo", bytes(TestMessages.groupInfo(SUITE, g2, 2, true)))));
  }

  /** Only an admin may reset; a non-member gets NotMember; nothing changes. */
  @Test
  void reset_isRefusedForNonAdminsAndChangesNothing() {
    byte[] g = group("any");
    refused(bob.post("resetGroup", resetBody(bob, g, 2, newGroupId(), List.of(carol))), 403, "NotAdmin");
    refused(dave.post("resetGroup", resetBody(dave, g, 2, newGroupId(), List.of(carol))), 403, "NotMember");
    assertThat(epoch(g)).isEqualTo(2);
    ok(send(bob, g, TestMessages.privateMessage(g, 2, ContentType.COMMIT)));
  }

  /**
   * The compare-and-set and the input rules: a reset from a stale epoch loses to the commit (409 StaleEpoch);
   * a second reset from the replaced group gets 409 GroupReset; a used group id is 409 ConvoExists; only members
   * are re-added; a member left out is removed.
   */
  @Test
  void reset_conflictsAndMembership() {
    byte[] g = group("any");
    ok(honestCommit(bob, 1, g, 2));
    var stale = alice.post("resetGroup", resetBody(alice, g, 2, newGroupId(), List.of(bob, carol)));
    refused(stale, 409, "StaleEpoch");
    assertThat(stale.json().get("currentEpoch").asLong()).isEqualTo(3);
    refused(alice.post("resetGroup", resetBody(alice, g, 3, g, List.of(bob))), 409, "ConvoExists");
    refused(alice.post("resetGroup", resetBody(alice, g, 3, newGroupId(), List.of(bob, dave))), 400, "InvalidRequest");
    byte[] g2 = newGroupId();
    var r = ok(alice.post("resetGroup", resetBody(alice, g, 3, g2, List.of(bob))));
    assertThat(r.json().get("removed")).hasSize(1);
    assertThat(r.json().get("removed").get(0).asText()).isEqualTo(carol.did().value());
    refused(carol.get("getMessages", "convoId", hex(g)), 403, "NotMember");
    refused(alice.post("resetGroup", resetBody(alice, g, 3, newGroupId(), List.of(bob))), 409, "GroupReset");
    // A reset's group id is never reused, neither by another reset nor by a new conversation.
    refused(alice.post("createConvo", Map.of("groupId", hex(g2), "cipherSuite", SUITE.name())), 409, "ConvoExists");
    var body = resetBody(alice, g, 1, newGroupId(), List.of(bob));
    body.put("fromGroupId", hex(g2));
    byte[] g3 = newGroupId();
    var again = resetBody(alice, g, 1, g3, List.of(bob));
    again.put("fromGroupId", hex(g2));
    ok(alice.post("resetGroup", again));
    refused(send(bob, g, TestMessages.privateMessage(g2, 1, ContentType.APPLICATION)), 409, "GroupReset");
    ok(send(bob, g, TestMessages.privateMessage(g3, 1, ContentType.APPLICATION)));
  }

  /** Under public the reset's commit is policed like addMembers': Adds only, from the caller's leaf 0. */
  @Test
  void reset_underPublicIsPolicedAndTheNewRosterIsExact() {
    byte[] g = group("public");
    byte[] g2 = newGroupId();
    var fromLeaf1 = resetBody(alice, g, 2, g2, List.of(bob, carol));
    byte[] kp = claimOne(alice, bob);
    fromLeaf1.put("commit", bytes(TestMessages.commit(g2, 0, 1, List.of(kp), List.of(), List.of(), alice.did().value())));
    fromLeaf1.put("didList", List.of(bob.did().value()));
    fromLeaf1.put("welcome", bytes(TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kp).ref()))));
    refused(alice.post("resetGroup", fromLeaf1), 400, "InvalidMlsMessage"); // leaf 1 of the new group is blank
    kp = claimOne(alice, bob);
    fromLeaf1.put("commit", bytes(TestMessages.commit(g2, 0, 0, List.of(kp), List.of(), List.of(), bob.did().value())));
    fromLeaf1.put("didList", List.of(bob.did().value()));
    fromLeaf1.put("welcome", bytes(TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kp).ref()))));
    refused(alice.post("resetGroup", fromLeaf1), 403, "Forbidden"); // an UpdatePath leaf that is not the caller's
    var encrypted = resetBody(alice, g, 2, g2, List.of(bob));
    encrypted.put("commit", bytes(TestMessages.privateMessage(g2, 0, ContentType.COMMIT)));
    refused(alice.post("resetGroup", encrypted), 400, "InvalidMlsMessage");
    ok(post(alice, "resetGroup", resetBody(alice, g, 2, g2, List.of(bob, carol))));
    // New tree: Alice 0, Bob 1, Carol 2. Bob's honest commit from leaf 1 is accepted; from Carol's leaf it is not.
    refused(send(bob, g, TestMessages.commit(g2, 1, 2, List.of(), List.of(), List.of(), bob.did().value())), 403, "Forbidden");
    ok(send(bob, g, commit(bob, g2, 1, 1, List.of(), List.of(), List.of(), bob.did().value())));
    assertThat(epoch(g)).isEqualTo(2);
  }

  /** A reset racing a commit for the same epoch on one node of this backend, ten rounds: exactly one wins. */
  @Test
  void reset_racingACommit_exactlyOneWins() throws Exception {
    for (int round = 0; round < 10; round++) {
      byte[] g = group("any");
      byte[] g2 = newGroupId();
      var body = resetBody(alice, g, 2, g2, List.of(bob, carol));
      byte[] commit = TestMessages.commit(g, 2, 1, List.of(), List.of(), List.of(), bob.did().value());
      java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
      try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        var reset = pool.submit(() -> {
          go.await();
          return alice.post("resetGroup", body);
        });
        var sent = pool.submit(() -> {
          go.await();
          return send(bob, g, commit);
        });
        go.countDown();
        Http.Response r = reset.get(60, java.util.concurrent.TimeUnit.SECONDS);
        Http.Response c = sent.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(List.of(r.status(), c.status())).as(r.body() + " / " + c.body()).containsExactlyInAnyOrder(200, 409);
        if (r.status() == 200) {
          assertThat(c.error()).isEqualTo("GroupReset");
          assertThat(epoch(g)).isEqualTo(1);
        } else {
          assertThat(r.error()).isEqualTo("StaleEpoch");
          assertThat(epoch(g)).isEqualTo(3);
        }
      }
      users();
    }
  }
}
