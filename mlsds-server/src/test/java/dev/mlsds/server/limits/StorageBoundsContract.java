package dev.mlsds.server.limits;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.ops.Retention;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.MutableClock;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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
 * The disk bounds of the 2026-12 security review (H3, H4) over HTTP on a real node, run on every
 * backend: a Welcome stored once, the devices-per-DID and refs-per-Welcome caps, per-user quotas, the
 * byte rate limit, and retention with its quota release. Small limits make each bound reachable; every
 * refusal is checked to have written nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class StorageBoundsContract {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final StorageLimits LIMITS = new StorageLimits(1024 * 1024, 3, 200 * 1024, 8, 2, 400 * 1024,
      Duration.ofDays(1), Duration.ofDays(7), 0, 4);
  Server server;
  TestUser alice;
  TestUser bob;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeAll
  void start() {
    server = TestServers.start(newDatabaseUrl(), c -> c.withStorage(LIMITS), Clock.systemUTC());
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

  // ---- H3 ----------------------------------------------------------------------------------------

  @Test
  @DisplayName("H3: a Welcome naming three devices is stored once, and each device gets it")
  void welcomeStoredOnce() {
    List<TestUser.Device> devices = List.of(bob.device(), bob.device(), bob.device());
    List<byte[]> kps = devices.stream().map(d -> publish(bob, d)).toList();
    byte[] g = newConvo(alice);
    Http.Response r = addMembers(alice, g, 0, List.of(bob), kps);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(count("SELECT COUNT(*) FROM welcome_blobs WHERE convo_id = '" + hex(g) + "'")).isEqualTo(1);
    assertThat(count("SELECT COUNT(*) FROM welcomes WHERE convo_id = '" + hex(g) + "'")).isEqualTo(3);
    byte[] welcome = null;
    for (TestUser.Device d : devices) {
      Http.Response w = bob.get("getWelcome", "convoId", hex(g), "deviceId", d.deviceId());
      assertThat(w.status()).as(w.body()).isEqualTo(200);
      byte[] got = java.util.Base64.getUrlDecoder().decode(w.json().get("welcome").asText());
      assertThat(welcome == null || java.util.Arrays.equals(welcome, got)).isTrue();
      welcome = got;
    }
  }

  @Test
  @DisplayName("H3: a DID holds KeyPackages for at most the device cap; the next device is refused")
  void devicesPerDidCapped() {
    for (int i = 0; i < LIMITS.devicesPerDid(); i++) {
      publish(bob, bob.device());
    }
    Http.Response r = bob.post("publishKeyPackages",
        Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(bob.device().keyPackage())))));
    assertThat(r.status()).isEqualTo(200);
    JsonNode result = r.json().get("results").get(0);
    assertThat(result.get("status").asText()).isEqualTo("rejected");
    assertThat(result.get("error").asText()).isEqualTo("KeyPackageLimitReached");
    assertThat(count("SELECT COUNT(DISTINCT device_id) FROM key_packages WHERE did = '" + bob.did().value() + "'"))
        .isEqualTo(LIMITS.devicesPerDid());
  }

  @Test
  @DisplayName("H3: a Welcome naming two KeyPackages of one device is refused and writes nothing")
  void oneRefPerDevice() {
    TestUser.Device d = bob.device();
    List<byte[]> kps = List.of(publish(bob, d), publish(bob, d));
    byte[] g = newConvo(alice);
    Http.Response r = addMembers(alice, g, 0, List.of(bob), kps);
    assertThat(r.error()).isEqualTo("WelcomeMismatch");
    assertThat(count("SELECT COUNT(*) FROM welcome_blobs WHERE convo_id = '" + hex(g) + "'")).isZero();
    assertThat(count("SELECT epoch FROM convos WHERE id = '" + hex(g) + "'")).isZero();
  }

  // ---- H4 ----------------------------------------------------------------------------------------

  @Test
  @DisplayName("H4: the per-user byte quota refuses the message that would exceed it (403 QuotaExceeded), nothing written")
  void byteQuota() {
    byte[] g = newConvo(alice);
    for (int i = 0; i < 3; i++) {
      assertThat(send(alice, g, 60 * 1024).status()).isEqualTo(200);
    }
    Http.Response r = send(alice, g, 60 * 1024);
    assertThat(r.status()).isEqualTo(403);
    assertThat(r.error()).isEqualTo("QuotaExceeded");
    assertThat(count("SELECT COUNT(*) FROM messages WHERE convo_id = '" + hex(g) + "'")).isEqualTo(3);
    assertThat(usage(alice)[1]).isEqualTo(3);
    // Another user is not affected.
    byte[] g2 = newConvo(bob);
    assertThat(send(bob, g2, 60 * 1024).status()).isEqualTo(200);
  }

  @Test
  @DisplayName("H4: the per-user message quota refuses the message over it")
  void messageQuota() {
    byte[] g = newConvo(alice);
    for (int i = 0; i < LIMITS.userMaxStoredMessages(); i++) {
      assertThat(send(alice, g, 100).status()).isEqualTo(200);
    }
    assertThat(send(alice, g, 100).error()).isEqualTo("QuotaExceeded");
    assertThat(usage(alice)).containsExactly(count("SELECT SUM(length(data)) FROM messages WHERE sender_did = '"
        + alice.did().value() + "'"), LIMITS.userMaxStoredMessages());
  }

  @Test
  @DisplayName("H4: open conversations per creator are capped; leaving one frees a place")
  void openConvoQuota() {
    byte[] first = newConvo(alice);
    newConvo(alice);
    Http.Response r = alice.post("createConvo", Map.of("groupId", hex(newGroupId()), "cipherSuite", SUITE.name()));
    assertThat(r.error()).isEqualTo("QuotaExceeded");
    assertThat(alice.post("leaveConvo", Map.of("convoId", hex(first))).status()).isEqualTo(200);
    newConvo(alice);
  }

  @Test
  @DisplayName("H4: procedures' request bytes are rate-limited per caller (429 with Retry-After)")
  void byteRateLimit() {
    // A 150 KiB message is a 200 KiB body, 190 KiB one 253 KiB: together over the 400 KiB per minute
    // by far more than the bucket refills between two requests (the rate is checked before the quota).
    byte[] g = newConvo(alice);
    assertThat(send(alice, g, 150 * 1024).status()).isEqualTo(200);
    Http.Response second = send(alice, g, 190 * 1024);
    assertThat(second.status()).isEqualTo(429);
    assertThat(second.error()).isEqualTo("RateLimitExceeded");
    assertThat(second.headers().firstValue("Retry-After")).isPresent();
    assertThat(count("SELECT COUNT(*) FROM messages WHERE convo_id = '" + hex(g) + "'")).isEqualTo(1);
    // Another caller has its own budget.
    byte[] gb = newConvo(bob);
    assertThat(send(bob, gb, 150 * 1024).status()).isEqualTo(200);
  }

  // ---- retention ---------------------------------------------------------------------------------

  @Test
  @DisplayName("H4: message retention deletes messages older than it and releases their quota")
  void messageRetention() {
    byte[] g = newConvo(alice);
    for (int i = 0; i < 3; i++) {
      assertThat(send(alice, g, 1000).status()).isEqualTo(200);
    }
    assertThat(usage(alice)[1]).isEqualTo(3);
    server.database().inTransaction(h -> h.execute("INSERT INTO commit_reports (convo_id, seq, reporter_did, reason,"
        + " created_at) VALUES (?, 1, ?, 'test', ?)", hex(g), alice.did().value(), System.currentTimeMillis()));
    retention(Duration.ofHours(12)).purgeOldMessages();
    assertThat(count("SELECT COUNT(*) FROM messages WHERE convo_id = '" + hex(g) + "'")).isEqualTo(3);
    assertThat(count("SELECT COUNT(*) FROM commit_reports WHERE convo_id = '" + hex(g) + "'")).isEqualTo(1);
    retention(Duration.ofDays(2)).purgeOldMessages();
    assertThat(count("SELECT COUNT(*) FROM messages WHERE convo_id = '" + hex(g) + "'")).isZero();
    assertThat(count("SELECT COUNT(*) FROM commit_reports WHERE convo_id = '" + hex(g) + "'")).as("reports too").isZero();
    assertThat(usage(alice)).containsExactly(0, 0);
    Http.Response page = alice.get("getMessages", "convoId", hex(g));
    assertThat(page.json().get("messages").size()).isZero();
    assertThat(send(alice, g, 1000).json().get("seq").asLong()).isEqualTo(4); // seq goes on, never reused
  }

  @Test
  @DisplayName("H3/H4: finished Welcomes and closed conversations are purged after the finished retention")
  void finishedWelcomesAndClosedConvosPurged() {
    TestUser.Device d = bob.device();
    byte[] g = newConvo(alice);
    assertThat(addMembers(alice, g, 0, List.of(bob), List.of(publish(bob, d))).status()).isEqualTo(200);
    assertThat(bob.get("getWelcome", "convoId", hex(g), "deviceId", d.deviceId()).status()).isEqualTo(200);
    assertThat(bob.post("confirmWelcome", Map.of("convoId", hex(g), "deviceId", d.deviceId(), "success", true))
        .status()).isEqualTo(200);
    long aliceBytes = usage(alice)[0];
    retention(Duration.ofDays(8)).purgeFinishedWelcomes();
    assertThat(count("SELECT COUNT(*) FROM welcomes WHERE convo_id = '" + hex(g) + "'")).isZero();
    assertThat(count("SELECT COUNT(*) FROM welcome_blobs WHERE convo_id = '" + hex(g) + "'")).isZero();
    assertThat(usage(alice)[0]).isLessThan(aliceBytes);

    assertThat(send(bob, g, 1000).status()).isEqualTo(200);
    assertThat(alice.post("leaveConvo", Map.of("convoId", hex(g))).status()).isEqualTo(200);
    retention(Duration.ofDays(8)).purgeClosedConvos();
    assertThat(count("SELECT COUNT(*) FROM convos WHERE id = '" + hex(g) + "'")).isEqualTo(1); // bob still in
    assertThat(bob.post("leaveConvo", Map.of("convoId", hex(g))).status()).isEqualTo(200);
    retention(Duration.ofDays(1)).purgeClosedConvos();
    assertThat(count("SELECT COUNT(*) FROM convos WHERE id = '" + hex(g) + "'")).isEqualTo(1); // closed too recently
    // The group-integrity rows of the conversation (leaf roster, stored proposals, reports, former groups) go with it.
    server.database().inTransaction(h -> {
      h.execute("INSERT INTO convo_groups (group_id, convo_id, ended_seq, ended_at, reset_by) VALUES ('ab', ?, 1, 1, ?)",
          hex(g), bob.did().value());
      h.execute("INSERT INTO convo_leaves (convo_id, leaf_index, did) VALUES (?, 7, ?)", hex(g), bob.did().value());
      h.execute("INSERT INTO convo_proposals (convo_id, ref, epoch, sender_did, sender_leaf, proposal)"
          + " VALUES (?, 'r', 1, ?, 7, ?)", hex(g), bob.did().value(), new byte[] {1});
      return h.execute("INSERT INTO commit_reports (convo_id, seq, reporter_did, reason, created_at)"
          + " VALUES (?, 1, ?, 'test', ?)", hex(g), bob.did().value(), System.currentTimeMillis());
    });
    retention(Duration.ofDays(8)).purgeClosedConvos();
    for (String table : List.of("convos WHERE id", "messages WHERE convo_id", "members WHERE convo_id",
        "convo_events WHERE convo_id", "member_devices WHERE convo_id", "convo_leaves WHERE convo_id",
        "convo_proposals WHERE convo_id", "commit_reports WHERE convo_id", "convo_groups WHERE convo_id")) {
      assertThat(count("SELECT COUNT(*) FROM " + table + " = '" + hex(g) + "'")).as(table).isZero();
    }
    assertThat(usage(alice)).containsExactly(0, 0);
    assertThat(usage(bob)).containsExactly(0, 0);
  }

  @Test
  @DisplayName("M7: each DID keeps only its newest stream cursor bases")
  void streamCursorsCappedPerDid() {
    server.database().inTransaction(h -> {
      for (int i = 0; i < 10; i++) {
        h.execute("INSERT INTO stream_cursors (id, did, positions, created_at) VALUES (?, ?, '[]', ?)",
            "a" + i + alice.did().value().hashCode(), alice.did().value(), 1000L + i);
      }
      return h.execute("INSERT INTO stream_cursors (id, did, positions, created_at) VALUES (?, ?, '[]', 0)",
          "b" + bob.did().value().hashCode(), bob.did().value());
    });
    retention(Duration.ZERO).purgeExcessStreamCursors();
    List<Long> left = server.database().withHandle(h -> h.createQuery(
        "SELECT created_at FROM stream_cursors WHERE did = :d ORDER BY created_at").bind("d", alice.did().value())
        .mapTo(Long.class).list());
    assertThat(left).containsExactly(1006L, 1007L, 1008L, 1009L);
    assertThat(count("SELECT COUNT(*) FROM stream_cursors WHERE did = '" + bob.did().value() + "'")).isEqualTo(1);
  }

  // ---- helpers -----------------------------------------------------------------------------------

  Retention retention(Duration later) {
    return new Retention(server.database(), new Quotas(LIMITS), new MutableClock(Instant.now().plus(later)));
  }

  long[] usage(TestUser u) {
    return server.database().withHandle(h -> new Quotas(LIMITS).usage(h, new Did(u.did().value())));
  }

  long count(String sql) {
    return server.database().withHandle(h -> h.createQuery(sql).mapTo(Long.class).findOne().orElse(0L));
  }

  static byte[] newGroupId() {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    return g;
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  byte[] newConvo(TestUser u) {
    byte[] g = newGroupId();
    Http.Response r = u.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", SUITE.name()));
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return g;
  }

  static byte[] publish(TestUser u, TestUser.Device d) {
    byte[] kp = d.keyPackage();
    Http.Response r = u.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp)))));
    assertThat(r.json().get("results").get(0).get("status").asText()).as(r.body()).isEqualTo("published");
    return kp;
  }

  static Http.Response addMembers(TestUser adder, byte[] g, long epoch, List<TestUser> users, List<byte[]> kps) {
    byte[] commit = TestMessages.commit(g, epoch, 0, kps, List.of(), false);
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    return adder.post("addMembers", Map.of("convoId", hex(g), "didList", users.stream().map(u -> u.did().value()).toList(),
        "commit", bytes(commit), "welcome", bytes(welcome)));
  }

  /** An application PrivateMessage at epoch 0 or 1 (the window) whose ciphertext is {@code size} bytes. */
  static Http.Response send(TestUser u, byte[] g, int size) {
    long epoch = 0;
    byte[] m = new MlsWriter(size + 64).u16(KeyPackage.MLS10).u16(WireFormat.MLS_PRIVATE_MESSAGE.value())
        .opaque(g).u64(epoch).u8(ContentType.APPLICATION.value()).opaque(new byte[0]).opaque(new byte[16])
        .opaque(new byte[size]).toByteArray();
    return u.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(m)));
  }
}
