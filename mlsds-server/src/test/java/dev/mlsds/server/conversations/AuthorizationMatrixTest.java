package dev.mlsds.server.conversations;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every conversation-scoped method × (stranger, removed member, member, admin). Strangers and removed
 * members get 403 {@code NotMember} and nothing else; members and admins get past authorization (the
 * request then succeeds or fails on its own merits, never with NotMember); removal is admin-only.
 */
class AuthorizationMatrixTest {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static Server server;
  static TestUser admin;
  static TestUser member;
  static TestUser removed;
  static TestUser stranger;
  static byte[] g;
  static String id;

  @BeforeAll
  static void setUp() {
    server = TestServers.start(TestDatabases.sqlite());
    admin = TestUser.on(server);
    member = TestUser.on(server);
    removed = TestUser.on(server);
    stranger = TestUser.on(server);
    g = new byte[16];
    new SecureRandom().nextBytes(g);
    id = HexFormat.of().formatHex(g);
    ok(admin.post("createConvo", Map.of("groupId", id, "cipherSuite", SUITE.name())));
    byte[] kpM = publish(member);
    byte[] kpR = publish(removed);
    ok(admin.post("addMembers", Map.of("convoId", id, "didList", List.of(member.did().value(), removed.did().value()),
        "commit", bytes(TestMessages.commit(g, 0, 0, List.of(kpM, kpR), List.of(), false)),
        "welcome", bytes(TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kpM).ref(), KeyPackage.decode(kpR).ref()))),
        "groupInfo", bytes(TestMessages.groupInfo(SUITE, g, 1, true)))));
    ok(admin.post("removeMember", Map.of("convoId", id, "targetDid", removed.did().value(),
        "commit", bytes(TestMessages.commit(g, 1, 0, List.of(), List.of(2L), true)))));
  }

  @AfterAll
  static void tearDown() {
    server.stop();
  }

  static byte[] publish(TestUser u) {
    byte[] kp = u.device().keyPackage();
    ok(u.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp))))));
    return kp;
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  static Stream<Arguments> methods() {
    BiFunction<TestUser, Long, Http.Response> getEpoch = (u, e) -> u.get("getEpoch", "convoId", id);
    return Stream.of(
        Arguments.of("getEpoch", getEpoch),
        Arguments.of("getMessages", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.get("getMessages", "convoId", id)),
        Arguments.of("getCommits", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.get("getCommits", "convoId", id, "fromEpoch", "0")),
        Arguments.of("getGroupInfo", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.get("getGroupInfo", "convoId", id)),
        Arguments.of("getWelcome", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.get("getWelcome", "convoId", id)),
        Arguments.of("sendMessage", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.post("sendMessage",
            Map.of("convoId", id, "ciphertext", bytes(TestMessages.privateMessage(g, e, ContentType.APPLICATION))))),
        Arguments.of("updateGroupInfo", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.post("updateGroupInfo",
            Map.of("convoId", id, "groupInfo", bytes(TestMessages.groupInfo(SUITE, g, e, true))))),
        Arguments.of("addMembers", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.post("addMembers",
            Map.of("convoId", id, "didList", List.of(stranger.did().value()),
                "commit", bytes(TestMessages.commit(g, e, 0, List.of(), List.of(), true)),
                "welcome", bytes(TestMessages.welcome(SUITE, List.of(new byte[32])))))),
        Arguments.of("confirmWelcome", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.post("confirmWelcome",
            Map.of("convoId", id, "success", true))),
        Arguments.of("processExternalCommit", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.post("processExternalCommit",
            Map.of("convoId", id, "commit", bytes(TestMessages.externalCommit(g, e))))),
        Arguments.of("leaveConvo", (BiFunction<TestUser, Long, Http.Response>) (u, e) -> u.post("leaveConvo",
            Map.of("convoId", id, "idempotencyKey", "probe-only-strangers"))));
  }

  long epoch() {
    return ok(admin.get("getEpoch", "convoId", id)).json().get("currentEpoch").asLong();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("methods")
  void strangersAndRemovedMembersAreNotMembers(String method, BiFunction<TestUser, Long, Http.Response> call) {
    if (method.equals("leaveConvo")) {
      // Only non-members may probe leaveConvo here (a member would really leave).
      assertThat(call.apply(stranger, epoch()).error()).isEqualTo("NotMember");
      assertThat(call.apply(removed, epoch()).error()).isEqualTo("NotMember");
      return;
    }
    for (TestUser u : List.of(stranger, removed)) {
      var r = call.apply(u, epoch());
      assertThat(r.status()).as(method + " " + r.body()).isEqualTo(403);
      assertThat(r.error()).isEqualTo("NotMember");
    }
    for (TestUser u : List.of(member, admin)) {
      var r = call.apply(u, epoch());
      assertThat(r.error()).as(method + " " + r.body()).isNotIn("NotMember", "NotAdmin", "Forbidden");
    }
  }

  @ParameterizedTest(name = "removeMember by {0}")
  @MethodSource("removers")
  void removalIsAdminOnly(String who, TestUser caller, String expected) {
    var r = caller.post("removeMember", Map.of("convoId", id, "targetDid", member.did().value(),
        "commit", bytes(TestMessages.commit(g, 99, 0, List.of(), List.of(1L), true))));
    // Epoch 99 is never current: an authorized caller gets FutureEpoch, so nothing is removed.
    assertThat(r.error()).as(r.body()).isEqualTo(expected);
  }

  static Stream<Arguments> removers() {
    return Stream.of(Arguments.of("stranger", stranger, "NotMember"), Arguments.of("removed", removed, "NotMember"),
        Arguments.of("member", member, "NotAdmin"), Arguments.of("admin", admin, "FutureEpoch"));
  }
}
