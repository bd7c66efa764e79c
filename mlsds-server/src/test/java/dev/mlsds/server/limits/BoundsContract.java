package dev.mlsds.server.limits;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestUser;
import java.net.URI;
import java.net.http.HttpRequest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Regression tests for the 2026-12 security review's findings about bad input and fault handling that apply
 * to every backend, each named after its finding; run by {@code SqliteBoundsTest} and {@code PostgresBoundsIT}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class BoundsContract {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  Server server;
  TestUser alice;
  TestUser bob;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeAll
  void start() {
    server = dev.mlsds.server.testing.TestServers.start(newDatabaseUrl());
  }

  @BeforeEach
  void users() {
    alice = TestUser.on(server);
    bob = TestUser.on(server);
  }

  @AfterAll
  void stop() {
    server.stop();
    dropDatabase();
  }

  static byte[] newGroupId() {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    return g;
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  @Test
  @DisplayName("L1: an inline Add with an unknown cipher suite is 400 InvalidMlsMessage, not 500, and changes nothing")
  void l1_unknownCipherSuiteInAnInlineAddIsInvalidMlsMessage() {
    byte[] g = newGroupId();
    assertThat(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name())).status())
        .isEqualTo(200);
    byte[] kp = KeyPackage.decode(bob.device().keyPackage()).bareBytes();
    kp[2] = 0x09; // cipher_suite 0x0999
    kp[3] = (byte) 0x99;
    byte[] framed = new byte[kp.length + 4];
    framed[1] = 1;
    framed[3] = 5; // mls10, mls_key_package
    System.arraycopy(kp, 0, framed, 4, kp.length);
    byte[] commit = TestMessages.commit(g, 0, 0, List.of(framed), List.of(), false);
    byte[] welcome = TestMessages.welcome(SUITE, List.of(new byte[32]));
    byte[] groupInfo = TestMessages.groupInfo(SUITE, g, 1, true);
    for (String method : List.of("addMembers")) {
      Http.Response r = alice.post(method, Map.of("convoId", hex(g), "didList", List.of(bob.did().value()),
          "commit", bytes(commit), "welcome", bytes(welcome), "groupInfo", bytes(groupInfo)));
      assertThat(r.status()).as(r.body()).isEqualTo(400);
      assertThat(r.error()).isEqualTo("InvalidMlsMessage");
    }
    assertThat(alice.get("getEpoch", "convoId", hex(g)).json().get("currentEpoch").asLong()).isZero();
  }

  @Test
  @DisplayName("L7: updateGroupInfo refuses a GroupInfo of another cipher suite than the conversation's")
  void l7_updateGroupInfoChecksTheSuite() {
    byte[] g = newGroupId();
    assertThat(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name())).status())
        .isEqualTo(200);
    byte[] other = TestMessages.groupInfo(CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256, g, 0, true);
    Http.Response r = alice.post("updateGroupInfo", Map.of("convoId", hex(g), "groupInfo", bytes(other)));
    assertThat(r.status()).as(r.body()).isEqualTo(400);
    assertThat(r.error()).isEqualTo("InvalidMlsMessage");
    Http.Response same = alice.post("updateGroupInfo", Map.of("convoId", hex(g),
        "groupInfo", bytes(TestMessages.groupInfo(SUITE, g, 0, true))));
    assertThat(same.status()).as(same.body()).isEqualTo(200);
  }

  @Test
  @DisplayName("M1: a write's token is recorded with its work: a call that fails leaves it unused, a replay after success is TokenReplayed")
  void m1_jtiRecordedWithTheWork() {
    byte[] g = newGroupId();
    assertThat(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name())).status())
        .isEqualTo(200);
    Http http = new Http(server.port());
    String token = alice.token("sendMessage");
    String path = "/xrpc/" + TestUser.NS + "sendMessage";
    byte[] wrongEpoch = TestMessages.privateMessage(g, 7, dev.mlsds.codec.ContentType.APPLICATION);
    String bad = dev.mlsds.server.xrpc.Json.write(Map.of("convoId", hex(g), "ciphertext", bytes(wrongEpoch)));
    Http.Response failed = http.post(path, token, bad);
    assertThat(failed.status()).as(failed.body()).isBetween(400, 499);
    byte[] message = TestMessages.privateMessage(g, 0, dev.mlsds.codec.ContentType.APPLICATION);
    String good = dev.mlsds.server.xrpc.Json.write(Map.of("convoId", hex(g), "ciphertext", bytes(message)));
    Http.Response sent = http.post(path, token, good);
    assertThat(sent.status()).as(sent.body()).isEqualTo(200);
    Http.Response replay = http.post(path, token, good);
    assertThat(replay.status()).isEqualTo(401);
    assertThat(replay.error()).isEqualTo("TokenReplayed");
    // The claim is the transaction's first statement: a replay is refused before its work is even looked at.
    Http.Response replayOfBad = http.post(path, token, bad);
    assertThat(replayOfBad.status()).isEqualTo(401);
    assertThat(replayOfBad.error()).isEqualTo("TokenReplayed");
    assertThat(alice.get("getMessages", "convoId", hex(g)).json().get("messages")).hasSize(1);
  }

  @Test
  @DisplayName("M1: eight concurrent uses of one write token: one succeeds, the others are TokenReplayed, the work is done once")
  void m1_concurrentReplaysOfAWriteToken() throws Exception {
    byte[] g = newGroupId();
    assertThat(alice.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name())).status())
        .isEqualTo(200);
    Http http = new Http(server.port());
    String token = alice.token("sendMessage");
    String body = dev.mlsds.server.xrpc.Json.write(Map.of("convoId", hex(g), "ciphertext",
        bytes(TestMessages.privateMessage(g, 0, dev.mlsds.codec.ContentType.APPLICATION))));
    List<java.util.concurrent.Future<Http.Response>> results = new java.util.ArrayList<>();
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 8; i++) {
        results.add(pool.submit(() -> http.post("/xrpc/" + TestUser.NS + "sendMessage", token, body)));
      }
      int ok = 0;
      for (var f : results) {
        Http.Response r = f.get();
        if (r.status() == 200) {
          ok++;
        } else {
          assertThat(r.error()).as(r.body()).isEqualTo("TokenReplayed");
        }
      }
      assertThat(ok).isEqualTo(1);
    }
    assertThat(alice.get("getMessages", "convoId", hex(g)).json().get("messages")).hasSize(1);
  }

  @Test
  @DisplayName("L3: HEAD on a query is 405, so HEAD getKeyPackages reserves nothing")
  void l3_headIsRefusedOnQueriesSoItCannotReserveOrConsume() {
    TestUser.Device d = bob.device();
    assertThat(bob.post("publishKeyPackages", Map.of("keyPackages",
        List.of(Map.of("keyPackage", bytes(d.keyPackage())))))) .extracting(Http.Response::status).isEqualTo(200);
    Http http = new Http(server.port());
    Http.Response head = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
            + "/xrpc/" + TestUser.NS + "getKeyPackages?dids=" + bob.did().value()))
        .header("Authorization", "Bearer " + alice.token("getKeyPackages"))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
    assertThat(head.status()).isEqualTo(405);
    assertThat(head.headers().firstValue("Allow")).hasValue("GET");
    // Nothing was reserved: the one KeyPackage is still there for a GET.
    assertThat(alice.get("getKeyPackages", "dids", bob.did().value()).json().get("keyPackages")).hasSize(1);
  }
}
