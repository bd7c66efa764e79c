package dev.mlsds.server.conversations;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsMessage;
import dev.mlsds.codec.PublicMessage;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestUser;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The 2025 (seed-lexicon) client's request shapes and readings, over HTTP on both backends (docs/lexicons.md,
 * "2025 clients"): leaveConvo returns newEpoch, getCommits labels a commit with the epoch it creates,
 * getMessages pages by sinceMessage and cursor to the newest message.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SeedCompatContract {
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

  @Test
  void seedLeaveWithoutCommitReturnsTheCurrentEpochAndEndsAccessAtOnce() {
    byte[] g = aliceAndBob();
    var left = ok(bob.post("leaveConvo", Map.of("convoId", hex(g)))).json();
    assertThat(left.get("success").asBoolean()).isTrue();
    assertThat(left.get("newEpoch").asLong()).as("no MLS change happened").isEqualTo(1);
    assertThat(bob.get("getMessages", "convoId", hex(g)).error()).isEqualTo("NotMember");
    assertThat(send(bob, g, 1).error()).isEqualTo("NotMember");
    assertThat(ok(alice.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong()).isEqualTo(1);
    // The remaining admin commits the Remove of the leaver's leaf (leaf 1), as any member may.
    byte[] remove = TestMessages.commit(g, 1, 0, List.of(), List.of(1L), true);
    var removed = ok(alice.post("removeMember", Map.of("convoId", hex(g), "targetDid", bob.did().value(),
        "commit", bytes(remove)))).json();
    assertThat(removed.get("newEpoch").asLong()).isEqualTo(2);
  }

  @Test
  void seedLeaveWithACommitForAnotherMemberIsARemovalAndASelfRemovalCommitIsRefused() {
    byte[] g = aliceAndBob();
    byte[] selfRemove = TestMessages.commit(g, 1, 1, List.of(), List.of(1L), true);
    var refused = bob.post("leaveConvo", Map.of("convoId", hex(g), "commit", bytes(selfRemove)));
    assertThat(refused.error()).isEqualTo("InvalidMlsMessage");
    assertThat(bob.post("leaveConvo", Map.of("convoId", hex(g), "targetDid", alice.did().value())).error())
        .isEqualTo("InvalidRequest");
    assertThat(ok(bob.get("getEpoch", "convoId", hex(g))).json().get("currentEpoch").asLong()).as("nothing written").isEqualTo(1);

    byte[] removeBob = TestMessages.commit(g, 1, 0, List.of(), List.of(1L), true);
    var out = ok(alice.post("leaveConvo", Map.of("convoId", hex(g), "targetDid", bob.did().value(),
        "commit", java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(removeBob)))).json();
    assertThat(out.get("newEpoch").asLong()).isEqualTo(2);
    assertThat(bob.get("getEpoch", "convoId", hex(g)).error()).isEqualTo("NotMember");
  }

  @Test
  void seedGetCommitsFromOwnEpochPlusOneFindsTheCommitItNeeds() {
    byte[] g = aliceAndBob();
    publish(carol, carol.device());
    ok(addMembers(alice, g, 1, List.of(carol), claim(alice, carol)));
    // Bob is at epoch 1 (joined by the add at epoch 0); the server is at 2.
    var out = ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "2", "toEpoch", "2")).json();
    assertThat(out.get("convoId").asText()).isEqualTo(hex(g));
    assertThat(out.get("commits")).hasSize(1);
    JsonNode c = out.get("commits").get(0);
    assertThat(c.get("epoch").asLong()).as("the epoch it creates").isEqualTo(2);
    assertThat(c.get("sentInEpoch").asLong()).isEqualTo(1);
    assertThat(c.get("sender").asText()).isEqualTo(alice.did().value());
    String b64 = c.get("commitData").get("$bytes").asText();
    assertThat(b64.length() % 4).as("padded").isZero();
    assertThat(((PublicMessage) MlsMessage.decode(java.util.Base64.getDecoder().decode(b64))).epoch()).isEqualTo(1);
    assertThat(ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "3")).json().get("commits")).isEmpty();
    assertThat(ok(bob.get("getCommits", "convoId", hex(g), "fromEpoch", "2", "toEpoch", "1")).json().get("commits")).isEmpty();
  }

  @Test
  void seedGetMessagesShowsTheNewestPageFirstAndPagesBackThroughCursor() {
    byte[] g = aliceAndBob();
    List<String> sent = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      sent.add(ok(send(i % 2 == 0 ? alice : bob, g, 1)).json().get("messageId").asText());
    }
    // The 2025 client: limit, no sinceSeq; newest page first, newest first; cursor while older ones remain.
    List<String> shown = new ArrayList<>();
    JsonNode page = ok(bob.get("getMessages", "convoId", hex(g), "limit", "3")).json();
    assertThat(page.get("messages").get(0).get("id").asText()).as("the newest message first").isEqualTo(sent.get(6));
    for (int pages = 0; ; pages++) {
      assertThat(pages).isLessThan(10);
      List<Long> seqs = new ArrayList<>();
      for (JsonNode m : page.get("messages")) {
        shown.add(m.get("id").asText());
        seqs.add(m.get("seq").asLong());
      }
      assertThat(seqs).isSortedAccordingTo(java.util.Comparator.reverseOrder());
      if (!page.has("cursor")) {
        break;
      }
      page = ok(bob.get("getMessages", "convoId", hex(g), "limit", "3", "sinceMessage", page.get("cursor").asText())).json();
    }
    List<String> newestFirst = new ArrayList<>(sent);
    java.util.Collections.reverse(newestFirst);
    assertThat(shown).as("every message Bob may see, once, newest first").containsExactlyElementsOf(newestFirst);
    // sinceMessage = a message id: the messages after it, as the 2025 server answered; an unknown id, nothing.
    JsonNode after = ok(bob.get("getMessages", "convoId", hex(g), "limit", "50", "sinceMessage", sent.get(4))).json();
    assertThat(after.get("messages")).extracting(m -> m.get("id").asText()).containsExactly(sent.get(5), sent.get(6));
    JsonNode unknown = ok(bob.get("getMessages", "convoId", hex(g), "sinceMessage", "no-such-message")).json();
    assertThat(unknown.get("messages")).isEmpty();
    assertThat(unknown.has("cursor")).isFalse();
    // Without limit (or with sinceSeq) the current contract: ascending from the start.
    assertThat(ok(bob.get("getMessages", "convoId", hex(g))).json().get("messages").get(0).get("id").asText())
        .isEqualTo(sent.get(0));
  }

  @Test
  void seedCreateConvoWithInitialMembersAndNoCommitRoutesTheWelcomeAndStartsAtEpochOne() {
    byte[] g = newGroupId();
    publish(bob, bob.device());
    List<byte[]> kps = claim(alice, bob);
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    var convo = ok(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name(),
        "initialMembers", List.of(bob.did().value()),
        "welcomeMessage", java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(welcome),
        "metadata", Map.of("name", "seed", "$type", "blue.catbird.mls.createConvo#metadataInput")))).json();
    assertThat(convo.get("epoch").asLong()).as("the creator's add commit makes epoch 1").isEqualTo(1);
    assertThat(convo.get("members")).extracting(m -> m.get("did").asText())
        .containsExactlyInAnyOrder(alice.did().value(), bob.did().value());
    assertThat(ok(alice.get("getCommits", "convoId", hex(g), "fromEpoch", "1")).json().get("commits")).as("no commit stored").isEmpty();
    // Bob lists it and fetches the Welcome without a deviceId: a base64url string.
    assertThat(ok(bob.get("getConvos")).json().get("conversations").get(0).get("id").asText()).isEqualTo(hex(g));
    var w = ok(bob.get("getWelcome", "convoId", hex(g))).json();
    assertThat(java.util.Base64.getUrlDecoder().decode(w.get("welcome").asText())).isEqualTo(welcome);
    // Both members go on at epoch 1: messages, and a third member added with a commit at epoch 1.
    ok(send(alice, g, 1));
    ok(send(bob, g, 1));
    publish(carol, carol.device());
    assertThat(ok(addMembers(alice, g, 1, List.of(carol), claim(alice, carol))).json().get("newEpoch").asLong()).isEqualTo(2);
    // A Welcome naming a KeyPackage of no initial member changes nothing.
    byte[] g2 = newGroupId();
    var refused = alice.post("createConvo", Map.of("groupId", hex(g2), "cipherSuite", SUITE.name(),
        "initialMembers", List.of(carol.did().value()), "welcomeMessage", bytes(welcome)));
    assertThat(refused.status()).isEqualTo(400);
    assertThat(alice.get("getEpoch", "convoId", hex(g2)).error()).isEqualTo("ConvoNotFound");
    assertThat(alice.post("createConvo", Map.of("groupId", hex(g2), "cipherSuite", SUITE.name(),
        "initialMembers", List.of(carol.did().value()))).error()).isEqualTo("InvalidRequest");
  }

  @Test
  void seedCreateConvoWithoutCommitIsRefusedUnderThePublicHandshakePolicy() {
    byte[] g = newGroupId();
    publish(bob, bob.device());
    List<byte[]> kps = claim(alice, bob);
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    var r = alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name(), "handshakePolicy", "public",
        "initialMembers", List.of(bob.did().value()), "welcome", bytes(welcome)));
    assertThat(r.error()).isEqualTo("InvalidRequest");
    assertThat(alice.get("getEpoch", "convoId", hex(g)).error()).isEqualTo("ConvoNotFound");
  }

  /** The 2025 client's upload: publishKeyPackage with a fresh signature key per KeyPackage, base64url, no padding. */
  byte[] publishLegacy(TestUser u) {
    byte[] kp = u.device().keyPackage();
    ok(u.post("publishKeyPackage", Map.of("keyPackage", java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(kp),
        "cipherSuite", SUITE.name())));
    return kp;
  }

  static List<String> refs(JsonNode getKeyPackages) {
    List<String> out = new ArrayList<>();
    getKeyPackages.get("keyPackages").forEach(k -> out.add(k.get("keyPackageRef").asText()));
    return out;
  }

  @Test
  void seedGetKeyPackagesOnOnesOwnDidReservesNothing() {
    TestUser.Device phone = alice.device();
    byte[] first = phone.keyPackage();
    byte[] second = phone.keyPackage();
    ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(first))))));
    ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(second))))));
    for (int i = 0; i < 3; i++) {
      var own = ok(alice.get("getKeyPackages", "dids", alice.did().value())).json();
      assertThat(refs(own)).containsExactly(TestUser.ref(first));
      assertThat(own.get("missing")).isEmpty();
    }
    // Nothing was reserved: Bob gets the oldest, then Carol the next one.
    assertThat(refs(ok(bob.get("getKeyPackages", "dids", alice.did().value())).json())).containsExactly(TestUser.ref(first));
    assertThat(refs(ok(carol.get("getKeyPackages", "dids", alice.did().value())).json())).containsExactly(TestUser.ref(second));
    var status = ok(alice.get("getKeyPackageStatus")).json();
    assertThat(status.get("devices").get(0).get("reserved").asInt()).isEqualTo(2);
  }

  @Test
  void seedUserWithOneSignatureKeyPerKeyPackageGetsOneKeyPackagePerCall() {
    byte[] k1 = publishLegacy(alice);
    byte[] k2 = publishLegacy(alice);
    byte[] k3 = publishLegacy(alice);
    Set<String> handed = new HashSet<>();
    for (TestUser claimer : List.of(bob, carol)) {
      var got = ok(claimer.get("getKeyPackages", "dids", alice.did().value())).json();
      assertThat(got.get("keyPackages")).as("one per call for a legacy user").hasSize(1);
      assertThat(handed.add(got.get("keyPackages").get(0).get("keyPackageRef").asText())).isTrue();
    }
    Set<String> all = new HashSet<>(List.of(TestUser.ref(k1), TestUser.ref(k2), TestUser.ref(k3)));
    assertThat(all).containsAll(handed);
    all.removeAll(handed);
    assertThat(refs(ok(alice.get("getKeyPackages", "dids", alice.did().value())).json())).containsExactlyElementsOf(all);
    // The legacy user is one device for getWelcome: no deviceId needed.
    byte[] g = newGroupId();
    createConvo(bob, g);
    byte[] reservedForBob = List.of(k1, k2, k3).stream().filter(k -> handed.contains(TestUser.ref(k))).findFirst().orElseThrow();
    ok(addMembers(bob, g, 0, List.of(alice), List.of(reservedForBob)));
    var w = ok(alice.get("getWelcome", "convoId", hex(g))).json();
    assertThat(handed).contains(w.get("keyPackageRef").asText());
  }

  @Test
  void m6WelcomeWithoutDeviceIdIsNeverAnotherDevicesWelcome() {
    TestUser.Device phone = alice.device();
    TestUser.Device laptop = alice.device();
    byte[] phoneKp = publish(alice, phone);
    publish(alice, laptop);
    byte[] g = newGroupId();
    createConvo(bob, g);
    ok(addMembers(bob, g, 0, List.of(alice), List.of(phoneKp)));
    // An old client names no device: it cannot be told from the laptop, so nothing is served or failed.
    assertThat(alice.get("getWelcome", "convoId", hex(g)).error()).isEqualTo("InvalidRequest");
    assertThat(alice.post("confirmWelcome", Map.of("convoId", hex(g), "success", false)).error()).isEqualTo("InvalidRequest");
    assertThat(alice.get("getWelcome", "convoId", hex(g), "deviceId", laptop.deviceId()).error()).isEqualTo("WelcomeNotFound");
    var w = ok(alice.get("getWelcome", "convoId", hex(g), "deviceId", phone.deviceId())).json();
    assertThat(w.get("keyPackageRef").asText()).isEqualTo(TestUser.ref(phoneKp));
  }

  @Test
  void concurrentClaimersOfALegacyUserEachGetOneDistinctKeyPackage() throws Exception {
    int n = 8;
    Set<String> published = new HashSet<>();
    for (int i = 0; i < n; i++) {
      published.add(TestUser.ref(publishLegacy(alice)));
    }
    List<TestUser> claimers = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      claimers.add(TestUser.on(server));
    }
    List<java.util.concurrent.Future<JsonNode>> results = new ArrayList<>();
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      var start = new java.util.concurrent.CountDownLatch(1);
      for (TestUser c : claimers) {
        results.add(pool.submit(() -> {
          start.await();
          return ok(c.get("getKeyPackages", "dids", alice.did().value())).json();
        }));
      }
      start.countDown();
    }
    Set<String> handed = new HashSet<>();
    for (var r : results) {
      JsonNode got = r.get();
      assertThat(got.get("keyPackages")).as("one per call").hasSize(1);
      assertThat(handed.add(got.get("keyPackages").get(0).get("keyPackageRef").asText())).as("never handed twice").isTrue();
    }
    assertThat(handed).isEqualTo(published);
    assertThat(ok(bob.get("getKeyPackages", "dids", alice.did().value())).json().get("missing"))
        .extracting(JsonNode::asText).containsExactly(alice.did().value());
  }
}
