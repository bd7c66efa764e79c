package dev.mlsds.server.storage;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.Test;

/**
 * An upgrade, as an operator does it: a database created and filled by the previous release (schema
 * version {@value #PREVIOUS}, rows as that release wrote them) is opened by this release, which migrates it
 * and then serves every row: the conversation, its members and message log, the pending Welcome and the
 * KeyPackages, and takes new writes after them. Run on every backend.
 *
 * <p>The rows are written with the column lists of schema {@value #PREVIOUS} only; when a release adds
 * migrations, this test proves they carry old rows over. When a release ships, move {@value #PREVIOUS} to
 * its last migration and extend the rows with what that schema added.
 */
abstract class UpgradeContract {
  /** The last migration of the previous release. */
  static final String PREVIOUS = "6";
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @Test
  void aDatabaseOfThePreviousReleaseIsMigratedAndServesItsData() {
    String url = newDatabaseUrl();
    try {
      run(url);
    } finally {
      dropDatabase();
    }
  }

  private void run(String url) {
    // The users exist before the server: the rows name their DIDs; their tokens are checked later.
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    String convo = HexFormat.of().formatHex(g);
    Identities ids = new Identities();
    TestUser.Device bobDevice = ids.bob.device();
    TestUser.Device carolDevice = ids.carol.device();
    byte[] bobKp = bobDevice.keyPackage();
    byte[] carolKp = carolDevice.keyPackage();
    String bobRef = TestUser.ref(bobKp);
    String carolRef = TestUser.ref(carolKp);
    byte[] commit = TestMessages.commit(g, 0, 0, List.of(bobKp), List.of(), false);
    byte[] welcome = TestMessages.welcome(SUITE, List.of(KeyPackage.decode(bobKp).ref()));
    byte[] hello = TestMessages.privateMessage(g, 1, ContentType.APPLICATION);
    byte[] reply = TestMessages.privateMessage(g, 1, ContentType.APPLICATION);
    String alice = ids.alice.did().value();
    String bob = ids.bob.did().value();
    String carol = ids.carol.did().value();
    long t = Instant.now().minusSeconds(3600).toEpochMilli();
    long notAfter = Instant.now().plusSeconds(20L * 86400).toEpochMilli();

    try (Database db = Database.open(url, null)) {
      Flyway.configure().dataSource(db.dataSource()).locations(db.dialect().migrationLocation())
          .target(PREVIOUS).load().migrate();
      db.inTransaction(h -> {
        h.createUpdate("""
            INSERT INTO convos (id, creator_did, cipher_suite, epoch, latest_seq, name, description, admin_only_adds,
              closed, group_info, group_info_epoch, created_at, last_message_at)
            VALUES (:id, :alice, 1, 1, 3, 'upgraded', 'from the previous release', :f, :f, NULL, NULL, :t, :t3)""")
            .bind("id", convo).bind("alice", alice).bind("f", false).bind("t", t).bind("t3", t + 3000).execute();
        member(h, convo, alice, "admin", 0, t);
        member(h, convo, bob, "member", 1, t + 1000);
        h.createUpdate("INSERT INTO member_devices (convo_id, did, device_id) VALUES (:c, :d, :dev)")
            .bind("c", convo).bind("d", bob).bind("dev", bobDevice.deviceId()).execute();
        message(h, convo, 1, alice, 0, "commit", commit, t + 1000);
        message(h, convo, 2, alice, 1, "application", hello, t + 2000);
        message(h, convo, 3, bob, 1, "application", reply, t + 3000);
        keyPackage(h, bobRef, bob, bobDevice.deviceId(), bobKp, "used", convo, notAfter, t);
        keyPackage(h, carolRef, carol, carolDevice.deviceId(), carolKp, "available", null, notAfter, t);
        h.createUpdate("""
            INSERT INTO welcomes (convo_id, key_package_ref, did, device_id, data, state, created_at)
            VALUES (:c, :ref, :did, :dev, :data, 'pending', :t)""")
            .bind("c", convo).bind("ref", bobRef).bind("did", bob).bind("dev", bobDevice.deviceId())
            .bind("data", welcome).bind("t", t + 1000).execute();
        return null;
      });
    }

    Server server = TestServers.start(url);
    try {
      Http http = new Http(server.port());
      TestUser a = ids.alice.on(http);
      TestUser b = ids.bob.on(http);
      TestUser dave = TestUser.on(server);
      assertThat(http.get("/health/ready", null).status()).isEqualTo(200);

      JsonNode convos = ok(a.get("getConvos")).json().get("conversations");
      assertThat(convos).hasSize(1);
      JsonNode view = convos.get(0);
      assertThat(view.get("id").asText()).isEqualTo(convo);
      assertThat(view.get("epoch").asLong()).isEqualTo(1);
      assertThat(view.get("creator").asText()).isEqualTo(alice);
      assertThat(view.path("metadata").path("name").asText()).isEqualTo("upgraded");
      assertThat(view.get("members")).extracting(m -> m.get("did").asText()).containsExactlyInAnyOrder(alice, bob);
      assertThat(ok(a.get("getEpoch", "convoId", convo)).json().get("currentEpoch").asLong()).isEqualTo(1);

      JsonNode log = ok(a.get("getMessages", "convoId", convo)).json().get("messages");
      assertThat(log).extracting(m -> m.get("seq").asLong()).containsExactly(1L, 2L, 3L);
      assertThat(ciphertext(log.get(0))).isEqualTo(commit);
      assertThat(ciphertext(log.get(1))).isEqualTo(hello);
      assertThat(ciphertext(log.get(2))).isEqualTo(reply);
      assertThat(ok(b.get("getMessages", "convoId", convo)).json().get("messages"))
          .as("Bob sees what came after his add").extracting(m -> m.get("seq").asLong()).containsExactly(2L, 3L);
      JsonNode commits = ok(a.get("getCommits", "convoId", convo, "fromEpoch", "0")).json().get("commits");
      assertThat(commits).hasSize(1);
      assertThat(commits.get(0).get("epoch").asLong()).as("labelled by the epoch it creates").isEqualTo(1);
      assertThat(commits.get(0).get("sentInEpoch").asLong()).isZero();

      JsonNode w = ok(b.get("getWelcome", "convoId", convo, "deviceId", bobDevice.deviceId())).json();
      assertThat(w.get("keyPackageRef").asText()).isEqualTo(bobRef);
      assertThat(Base64.getUrlDecoder().decode(w.get("welcome").asText())).isEqualTo(welcome);

      JsonNode kps = ok(dave.get("getKeyPackages", "dids", carol)).json();
      assertThat(kps.get("keyPackages")).extracting(k -> k.get("keyPackageRef").asText()).containsExactly(carolRef);

      JsonNode sent = ok(a.post("sendMessage", Map.of("convoId", convo,
          "ciphertext", bytes(TestMessages.privateMessage(g, 1, ContentType.APPLICATION))))).json();
      assertThat(sent.get("seq").asLong()).as("new writes continue the old log").isEqualTo(4);
    } finally {
      server.stop();
    }
  }

  /** Users whose DIDs go into the rows before any server runs; they talk to the server once it is up. */
  private static final class Identities {
    private final Http none = new Http(1);
    final TestUser alice = new TestUser(none, TestServers.config("jdbc:sqlite::memory:").serviceDid());
    final TestUser bob = new TestUser(none, TestServers.config("jdbc:sqlite::memory:").serviceDid());
    final TestUser carol = new TestUser(none, TestServers.config("jdbc:sqlite::memory:").serviceDid());
  }

  private static byte[] ciphertext(JsonNode message) {
    return Base64.getDecoder().decode(message.get("ciphertext").get("$bytes").asText());
  }

  private static void member(Handle h, String convo, String did, String role, long joinedSeq, long at) {
    h.createUpdate("""
        INSERT INTO members (convo_id, did, role, active, joined_at, joined_seq, left_at)
        VALUES (:c, :did, :role, :active, :at, :seq, NULL)""")
        .bind("c", convo).bind("did", did).bind("role", role).bind("active", true).bind("at", at)
        .bind("seq", joinedSeq).execute();
  }

  private static void message(Handle h, String convo, long seq, String sender, long epoch, String type, byte[] data,
      long at) {
    h.createUpdate("""
        INSERT INTO messages (convo_id, seq, id, sender_did, epoch, content_type, data, msg_id, created_at)
        VALUES (:c, :seq, :id, :sender, :epoch, :type, :data, NULL, :at)""")
        .bind("c", convo).bind("seq", seq).bind("id", UUID.randomUUID().toString()).bind("sender", sender)
        .bind("epoch", epoch).bind("type", type).bind("data", data).bind("at", at).execute();
  }

  private static void keyPackage(Handle h, String ref, String did, String device, byte[] data, String state,
      String convo, long notAfter, long at) {
    h.createUpdate("""
        INSERT INTO key_packages (ref, did, device_id, cipher_suite, data, last_resort, state, reserved_by,
          reserved_until, convo_id, not_after, created_at, used_at, consumed_at, replaced_at)
        VALUES (:ref, :did, :dev, 1, :data, :lr, :state, NULL, NULL, :convo, :notAfter, :at, :usedAt, NULL, NULL)""")
        .bind("ref", ref).bind("did", did).bind("dev", device).bind("data", data).bind("lr", false)
        .bind("state", state).bind("convo", convo).bind("notAfter", notAfter).bind("at", at)
        .bind("usedAt", convo == null ? null : at + 1000).execute();
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }
}
