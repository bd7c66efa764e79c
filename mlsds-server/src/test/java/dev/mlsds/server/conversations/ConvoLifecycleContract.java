package dev.mlsds.server.conversations;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestUser;
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
 * The group lifecycle over HTTP on a real node, run on every backend: conversations, commit bundles,
 * epochs, the message log and Welcome delivery, including the seed document's three test cases. MLS
 * bytes come from the codec's test builders (the server parses headers only); real MLS clients exchange
 * real messages in the e2e suite.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ConvoLifecycleContract {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  Server server;
  TestUser alice;
  TestUser bob;
  TestUser carol;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeAll
  void start() {
    server = dev.mlsds.server.testing.TestServers.start(newDatabaseUrl());
  }

  /** Fresh users per test: tests share the node but never each other's data. */
  @BeforeEach
  void users() {
    alice = TestUser.on(server);
    bob = TestUser.on(server);
    carol = TestUser.on(server);
  }

  @AfterAll
  void stop() {
    server.stop();
    dropDatabase();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  static byte[] newGroupId() {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    return g;
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  byte[] publish(TestUser u, TestUser.Device d) {
    byte[] kp = d.keyPackage();
    var r = ok(u.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp))))));
    assertThat(r.json().get("results").get(0).get("status").asText()).isEqualTo("published");
    return kp;
  }

  /** Claims one KeyPackage per device of {@code target} for {@code adder}. */
  List<byte[]> claim(TestUser adder, TestUser target) {
    var r = ok(adder.get("getKeyPackages", "dids", target.did().value()));
    List<byte[]> out = new ArrayList<>();
    for (JsonNode k : r.json().get("keyPackages")) {
      out.add(java.util.Base64.getUrlDecoder().decode(k.get("keyPackage").asText()));
    }
    return out;
  }

  String createConvo(TestUser creator, byte[] groupId) {
    ok(creator.post("createConvo", Map.of("groupId", hex(groupId), "cipherSuite", SUITE.name())));
    return hex(groupId);
  }

  Http.Response addMembers(TestUser adder, byte[] groupId, long epoch, List<TestUser> users, List<byte[]> kps) {
    byte[] commit = TestMessages.commit(groupId, epoch, 0, kps, List.of(), false);
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    byte[] groupInfo = TestMessages.groupInfo(SUITE, groupId, epoch + 1, true);
    return adder.post("addMembers", Map.of("convoId", hex(groupId),
        "didList", users.stream().map(u -> u.did().value()).toList(),
        "commit", bytes(commit), "welcome", bytes(welcome), "groupInfo", bytes(groupInfo)));
  }

  Http.Response send(TestUser u, byte[] groupId, long epoch) {
    return u.post("sendMessage", Map.of("convoId", hex(groupId),
        "ciphertext", bytes(TestMessages.privateMessage(groupId, epoch, ContentType.APPLICATION))));
  }

  /** Alice's conversation with Bob added at epoch 0 → 1 (Bob's KeyPackage claimed and named in the Welcome). */
  byte[] aliceAndBob() {
    byte[] g = newGroupId();
    createConvo(alice, g);
    publish(bob, bob.device());
    ok(addMembers(alice, g, 0, List.of(bob), claim(alice, bob)));
    return g;
  }

  // ---- tests -----------------------------------------------------------------------------------

  @Test
  void createConvoStartsAtEpochZeroWithTheCallerAsAdmin() {
    byte[] g = newGroupId();
    var r = ok(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name(),
        "metadata", Map.of("name", "lunch"))));
    JsonNode v = r.json();
    assertThat(v.get("id").asText()).isEqualTo(hex(g));
    assertThat(v.get("groupId").asText()).isEqualTo(hex(g));
    assertThat(v.get("epoch").asLong()).isZero();
    assertThat(v.get("creator").asText()).isEqualTo(alice.did().value());
    assertThat(v.get("members").get(0).get("role").asText()).isEqualTo("admin");
    assertThat(v.get("metadata").get("name").asText()).isEqualTo("lunch");
    var again = alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name()));
    assertThat(again.error()).isEqualTo("ConvoExists");
    assertThat(ok(alice.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong()).isZero();
  }

  @Test
  void addMembersMovesTheEpochRoutesTheWelcomeAndMakesTheMember() {
    byte[] g = newGroupId();
    createConvo(alice, g);
    TestUser.Device bobPhone = bob.device();
    byte[] kp = publish(bob, bobPhone);
    var r = ok(addMembers(alice, g, 0, List.of(bob), claim(alice, bob)));
    assertThat(r.json().get("newEpoch").asLong()).isEqualTo(1);
    JsonNode rec = r.json().get("welcomeRecipients").get(0);
    assertThat(rec.get("did").asText()).isEqualTo(bob.did().value());
    assertThat(rec.get("deviceId").asText()).isEqualTo(bobPhone.deviceId());
    assertThat(rec.get("keyPackageRef").asText()).isEqualTo(TestUser.ref(kp));
    assertThat(ok(bob.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong()).isEqualTo(1);
    var w = ok(bob.get("getWelcome", "convoId", hex(g)));
    assertThat(w.json().get("keyPackageRef").asText()).isEqualTo(TestUser.ref(kp));
    assertThat(w.json().get("deviceId").asText()).isEqualTo(bobPhone.deviceId());
    var gi = ok(bob.get("getGroupInfo", "convoId", hex(g)));
    assertThat(gi.json().get("epoch").asLong()).isEqualTo(1);
  }

  /** Seed document, Test Case 1: User Publishes New Key Package After Being Added. */
  @Test
  void seedCase1_userPublishesNewKeyPackageAfterBeingAdded() {
    // 1. User A publishes key package #1
    TestUser userA = bob;
    TestUser userB = alice;
    TestUser.Device device = userA.device();
    byte[] kp1 = publish(userA, device);
    // 2. User B creates conversation, adds User A
    byte[] g = newGroupId();
    createConvo(userB, g);
    List<byte[]> claimed = claim(userB, userA);
    assertThat(claimed).hasSize(1);
    assertThat(TestUser.ref(claimed.get(0))).isEqualTo(TestUser.ref(kp1));
    ok(addMembers(userB, g, 0, List.of(userA), claimed));
    // 3. User A publishes key package #2
    publish(userA, device);
    // 4. User A tries to join conversation: the Welcome for package #1 is returned
    var w = ok(userA.get("getWelcome", "convoId", hex(g), "deviceId", device.deviceId()));
    assertThat(w.json().get("keyPackageRef").asText()).isEqualTo(TestUser.ref(kp1));
  }

  /** Seed document, Test Case 3: Already Consumed Welcome → HTTP 410 Gone. */
  @Test
  void seedCase3_alreadyConsumedWelcomeIs410() {
    byte[] g = aliceAndBob();
    // 1. User A successfully joins a conversation (Welcome consumed)
    ok(bob.get("getWelcome", "convoId", hex(g)));
    ok(bob.post("confirmWelcome", Map.of("convoId", hex(g), "success", true)));
    // 2. User A tries to fetch Welcome again
    var again = bob.get("getWelcome", "convoId", hex(g));
    assertThat(again.status()).isEqualTo(410);
    assertThat(again.error()).isEqualTo("WelcomeConsumed");
  }

  @Test
  void welcomeCanBeRefetchedByItsDeviceUntilConfirmed() {
    byte[] g = aliceAndBob();
    var first = ok(bob.get("getWelcome", "convoId", hex(g)));
    var second = ok(bob.get("getWelcome", "convoId", hex(g)));
    assertThat(second.body()).isEqualTo(first.body());
  }

  @Test
  void aStaleCommitGetsTheCurrentEpochAndLatestSeq() {
    byte[] g = aliceAndBob();
    byte[] c1 = TestMessages.commit(g, 1, 0, List.of(), List.of(), true);
    byte[] c2 = TestMessages.commit(g, 1, 1, List.of(), List.of(), true);
    var won = ok(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(c1))));
    assertThat(won.json().get("epoch").asLong()).isEqualTo(1);
    var lost = bob.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(c2)));
    assertThat(lost.status()).isEqualTo(409);
    assertThat(lost.error()).isEqualTo("StaleEpoch");
    assertThat(lost.json().get("currentEpoch").asLong()).isEqualTo(2);
    assertThat(lost.json().get("latestSeq").asLong()).isEqualTo(won.json().get("seq").asLong());
    // The loser (at epoch 1) fetches the winning commit, labelled by the epoch it creates, and can move on.
    var commits = ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "2"));
    assertThat(commits.json().get("commits")).hasSize(1);
    assertThat(commits.json().get("commits").get(0).get("epoch").asLong()).isEqualTo(2);
    assertThat(commits.json().get("commits").get(0).get("sentInEpoch").asLong()).isEqualTo(1);
    assertThat(ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "3")).json().get("commits")).isEmpty();
    assertThat(commits.json().get("hasMore").asBoolean()).isFalse();
    var future = bob.post("sendMessage", Map.of("convoId", hex(g),
        "ciphertext", bytes(TestMessages.commit(g, 5, 1, List.of(), List.of(), true))));
    assertThat(future.error()).isEqualTo("FutureEpoch");
  }

  @Test
  void messagesAreAscendingGapFreeAndVisibleOnlyAfterTheMembersJoin() {
    byte[] g = newGroupId();
    createConvo(alice, g);
    ok(send(alice, g, 0));
    ok(send(alice, g, 0));
    publish(bob, bob.device());
    ok(addMembers(alice, g, 0, List.of(bob), claim(alice, bob)));
    ok(send(alice, g, 1));
    var all = ok(alice.get("getMessages", "convoId", hex(g)));
    assertThat(all.json().get("messages")).extracting(m -> m.get("seq").asLong()).containsExactly(1L, 2L, 3L, 4L);
    assertThat(all.json().get("messages").get(2).get("contentType").asText()).isEqualTo("commit");
    var bobs = ok(bob.get("getMessages", "convoId", hex(g)));
    assertThat(bobs.json().get("messages")).extracting(m -> m.get("seq").asLong()).containsExactly(4L);
    var page = ok(alice.get("getMessages", "convoId", hex(g), "sinceSeq", "1", "limit", "2"));
    assertThat(page.json().get("messages")).extracting(m -> m.get("seq").asLong()).containsExactly(2L, 3L);
    assertThat(page.json().get("hasMore").asBoolean()).isTrue();
    assertThat(page.json().get("lastSeq").asLong()).isEqualTo(3);
  }

  @Test
  void applicationMessagesOutsideTheEpochWindowAreRefused() {
    byte[] g = aliceAndBob(); // epoch 1
    for (int e = 1; e <= 3; e++) {
      ok(alice.post("sendMessage", Map.of("convoId", hex(g),
          "ciphertext", bytes(TestMessages.commit(g, e, 0, List.of(), List.of(), true)))));
    }
    // epoch 4 now; window 2 → epochs 2..4 accepted
    ok(send(alice, g, 2));
    assertThat(send(alice, g, 1).error()).isEqualTo("StaleEpoch");
    assertThat(send(alice, g, 5).error()).isEqualTo("FutureEpoch");
  }

  @Test
  void msgIdDeduplicatesAndIdempotencyKeyReplays() {
    byte[] g = aliceAndBob();
    byte[] m = TestMessages.privateMessage(g, 1, ContentType.APPLICATION);
    var a = ok(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m), "msgId", "client-1")));
    var b = ok(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m), "msgId", "client-1")));
    assertThat(b.json().get("seq").asLong()).isEqualTo(a.json().get("seq").asLong());
    assertThat(b.json().get("messageId").asText()).isEqualTo(a.json().get("messageId").asText());
    var c = ok(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m), "idempotencyKey", "k1")));
    var d = ok(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m), "idempotencyKey", "k1")));
    assertThat(d.body()).isEqualTo(c.body());
    assertThat(ok(alice.get("getMessages", "convoId", hex(g))).json().get("messages")).hasSize(3);
  }

  @Test
  void removedMemberCanNoLongerReadAndOnlyAdminsRemove() {
    byte[] g = aliceAndBob();
    publish(carol, carol.device());
    ok(addMembers(alice, g, 1, List.of(carol), claim(alice, carol)));
    byte[] removeCarol = TestMessages.commit(g, 2, 1, List.of(), List.of(2L), true);
    var denied = bob.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(), "commit", bytes(removeCarol)));
    assertThat(denied.error()).isEqualTo("NotAdmin");
    var removed = ok(alice.post("removeMember", Map.of("convoId", hex(g), "targetDid", carol.did().value(), "commit", bytes(removeCarol))));
    assertThat(removed.json().get("newEpoch").asLong()).isEqualTo(3);
    assertThat(carol.get("getMessages", "convoId", hex(g)).error()).isEqualTo("NotMember");
    assertThat(send(carol, g, 3).error()).isEqualTo("NotMember");
    assertThat(carol.get("getWelcome", "convoId", hex(g)).error()).isEqualTo("NotMember");
  }

  @Test
  void leavingPromotesTheLongestStandingMemberAndTheLastOneClosesTheConvo() {
    byte[] g = aliceAndBob();
    ok(alice.post("leaveConvo", Map.of("convoId", hex(g))));
    var view = ok(bob.get("getConvos")).json().get("conversations").get(0);
    assertThat(view.get("members")).hasSize(1);
    assertThat(view.get("members").get(0).get("role").asText()).isEqualTo("admin");
    assertThat(alice.get("getEpoch", "convoId", hex(g)).error()).isEqualTo("NotMember");
    ok(bob.post("leaveConvo", Map.of("convoId", hex(g))));
    assertThat(bob.get("getEpoch", "convoId", hex(g)).error()).isEqualTo("ConvoNotFound");
  }

  @Test
  void getConvosPagesMostRecentFirst() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      byte[] g = newGroupId();
      ids.add(createConvo(alice, g));
      ok(send(alice, g, 0));
    }
    var p1 = ok(alice.get("getConvos", "limit", "2"));
    assertThat(p1.json().get("conversations")).extracting(c -> c.get("id").asText()).containsExactly(ids.get(2), ids.get(1));
    var p2 = ok(alice.get("getConvos", "limit", "2", "cursor", p1.json().get("cursor").asText()));
    assertThat(p2.json().get("conversations")).extracting(c -> c.get("id").asText()).containsExactly(ids.get(0));
    assertThat(p2.json().has("cursor")).isFalse();
    assertThat(alice.get("getConvos", "cursor", "garbage").error()).isEqualTo("InvalidRequest");
  }

  @Test
  void badMlsInputIsRefusedAndChangesNothing() {
    byte[] g = aliceAndBob();
    byte[] other = newGroupId();
    byte[] good = TestMessages.privateMessage(g, 1, ContentType.APPLICATION);
    byte[] truncated = java.util.Arrays.copyOf(good, good.length - 3);
    assertThat(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(truncated))).error())
        .isEqualTo("InvalidMlsMessage");
    assertThat(alice.post("sendMessage", Map.of("convoId", hex(g),
        "ciphertext", bytes(TestMessages.privateMessage(other, 1, ContentType.APPLICATION)))).error()).isEqualTo("WrongGroup");
    assertThat(alice.post("sendMessage", Map.of("convoId", hex(g),
        "ciphertext", bytes(TestMessages.applicationPublicMessage(g, 1, 0)))).error()).isEqualTo("InvalidMlsMessage");
    assertThat(alice.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(good), "epoch", 7)).error())
        .isEqualTo("InvalidMlsMessage");
    // A Welcome naming a KeyPackageRef nobody published.
    byte[] unknownKp = carol.device().keyPackage();
    var r = addMembers(alice, g, 1, List.of(carol), List.of(unknownKp));
    assertThat(r.error()).isEqualTo("KeyPackageNotFound");
    // A Welcome naming bob's (already used) KeyPackage for carol.
    assertThat(ok(alice.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong()).isEqualTo(1);
    assertThat(ok(alice.get("getMessages", "convoId", hex(g))).json().get("messages")).hasSize(1);
    assertThat(carol.get("getEpoch", "convoId", hex(g)).error()).isEqualTo("NotMember");
  }

  @Test
  void aWelcomeMustCoverEveryDidAndNameOnlyTheirKeyPackages() {
    byte[] g = newGroupId();
    createConvo(alice, g);
    publish(bob, bob.device());
    publish(carol, carol.device());
    List<byte[]> bobs = claim(alice, bob);
    // didList names carol too, but the Welcome only bob.
    assertThat(addMembers(alice, g, 0, List.of(bob, carol), bobs).error()).isEqualTo("WelcomeMismatch");
    // carol's KeyPackage for a didList of bob only.
    assertThat(addMembers(alice, g, 0, List.of(bob), claim(alice, carol)).error()).isEqualTo("KeyPackageNotFound");
    assertThat(ok(alice.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong()).isZero();
  }

  @Test
  void getCommitsSaysWhenItsCapCutTheRange() {
    byte[] g = newGroupId();
    ConvoId id = new ConvoId(createConvo(alice, g));
    // 1,001 accepted commits written through the real log in one transaction (fast), then read over HTTP.
    var convoStore = new ConvoStore(server.database().dialect());
    var log = new dev.mlsds.server.delivery.MessageLog(convoStore, new dev.mlsds.server.delivery.MessageStore());
    server.database().inTransaction(h -> {
      for (long e = 0; e <= 1000; e++) {
        log.acceptCommit(h, convoStore.lock(h, id), alice.did(),
            dev.mlsds.server.delivery.MlsInput.commit(TestMessages.commit(g, e, 0, List.of(), List.of(), true), id, "commit"),
            System.currentTimeMillis());
      }
      return null;
    });
    var first = ok(alice.get("getCommits", "convoId", id.value(), "fromEpoch", "0")).json();
    assertThat(first.get("commits")).hasSize(1000);
    assertThat(first.get("hasMore").asBoolean()).isTrue();
    assertThat(first.get("commits").get(0).get("epoch").asLong()).isEqualTo(1);
    assertThat(first.get("commits").get(999).get("epoch").asLong()).isEqualTo(1000);
    var rest = ok(alice.get("getCommits", "convoId", id.value(), "fromEpoch", "1001")).json();
    assertThat(rest.get("commits")).extracting(c -> c.get("epoch").asLong()).containsExactly(1001L);
    assertThat(rest.get("hasMore").asBoolean()).isFalse();
  }

  @Test
  void the2025FieldNameWelcomeMessageIsStillRead() {
    byte[] g = newGroupId();
    createConvo(alice, g);
    publish(bob, bob.device());
    List<byte[]> kps = claim(alice, bob);
    var r = ok(alice.post("addMembers", Map.of("convoId", hex(g), "didList", List.of(bob.did().value()),
        "commit", bytes(TestMessages.commit(g, 0, 0, kps, List.of(), false)),
        "welcomeMessage", bytes(TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList())))));
    assertThat(r.json().get("newEpoch").asLong()).isEqualTo(1);
    assertThat(bob.get("getCommits", "convoId", hex(g)).error()).isEqualTo("InvalidRequest");
  }

  @Test
  void senderDidOfSomeoneElseIsForbidden() {
    byte[] g = aliceAndBob();
    var r = alice.post("sendMessage", Map.of("convoId", hex(g), "senderDid", bob.did().value(),
        "ciphertext", bytes(TestMessages.privateMessage(g, 1, ContentType.APPLICATION))));
    assertThat(r.error()).isEqualTo("Forbidden");
  }
}
