package dev.mlsds.server.keypackages;

import static dev.mlsds.server.testing.TestUser.bytes;
import static dev.mlsds.server.testing.TestUser.ref;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The KeyPackage methods over real HTTP on a real node (SQLite, real did:key service tokens): output shapes
 * (the test client checks every response against its lexicon), the exact XRPC error names, and that bad
 * input changes nothing in the database.
 */
class KeyPackageHttpTest {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static Server server;
  static Http http;

  @BeforeAll
  static void start() {
    server = TestServers.start(TestDatabases.sqlite());
    http = new Http(server.port());
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  static Map<String, Object> upload(byte[] kp) {
    return Map.of("keyPackage", bytes(kp));
  }

  static byte[] decode(JsonNode bytes) {
    return Base64.getDecoder().decode(bytes.get("$bytes").asText());
  }

  /** Every row that matters, so "nothing changed" is one comparison. */
  static List<Map<String, Object>> snapshot(Server s) {
    return s.database().withHandle(h -> {
      List<Map<String, Object>> rows = new ArrayList<>(h.createQuery("""
          SELECT ref, did, device_id, state, reserved_by, reserved_until, last_resort, replaced_at, not_after
          FROM key_packages ORDER BY ref""").mapToMap().list());
      rows.add(Map.of("welcomes", h.createQuery("SELECT COUNT(*) FROM welcomes").mapTo(Integer.class).one(),
          "events", h.createQuery("SELECT COUNT(*) FROM convo_events").mapTo(Integer.class).one()));
      return rows;
    });
  }

  @Test
  void publishClaimStatusAndSyncOverHttp() throws InterruptedException {
    TestUser alice = TestUser.on(server);
    TestUser bob = TestUser.on(server);
    TestUser.Device phone = alice.device();
    byte[] k1 = phone.keyPackage();
    byte[] k2 = phone.keyPackage();
    byte[] last = phone.keyPackage(true);

    // Items of one batch are equally old; k1 is published first so that it is the oldest.
    ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(k1)))));
    Thread.sleep(5);
    JsonNode published = ok(alice.post("publishKeyPackages", Map.of("keyPackages",
        List.of(upload(k1), upload(k2), Map.of("keyPackage", Base64.getEncoder().encodeToString(last)))))).json();
    assertThat(published.get("results")).hasSize(3);
    assertThat(published.at("/results/0/status").asText()).isEqualTo("duplicate");
    assertThat(published.at("/results/1/status").asText()).isEqualTo("published");
    assertThat(published.at("/results/1/keyPackageRef").asText()).isEqualTo(ref(k2));
    assertThat(published.at("/results/1/deviceId").asText()).isEqualTo(phone.deviceId());
    assertThat(published.at("/results/1/cipherSuite").asText()).isEqualTo(SUITE.name());
    assertThat(published.at("/available/0/count").asInt()).isEqualTo(2);

    JsonNode got = ok(bob.get("getKeyPackages", "dids", alice.did().value(), "cipherSuite", "1")).json();
    assertThat(got.get("missing")).isEmpty();
    assertThat(got.get("keyPackages")).singleElement().satisfies(k -> {
      assertThat(k.get("did").asText()).isEqualTo(alice.did().value());
      assertThat(k.get("deviceId").asText()).isEqualTo(phone.deviceId());
      assertThat(Base64.getUrlDecoder().decode(k.get("keyPackage").asText())).isEqualTo(k1);
      assertThat(k.get("keyPackageRef").asText()).isEqualTo(ref(k1));
      assertThat(k.get("cipherSuite").asText()).isEqualTo(SUITE.name());
      assertThat(k.get("lastResort").asBoolean()).isFalse();
    });

    JsonNode status = ok(alice.get("getKeyPackageStatus")).json();
    assertThat(status.get("threshold").asInt()).isEqualTo(10);
    assertThat(status.get("needsReplenish").asBoolean()).isTrue();
    assertThat(status.at("/devices/0/available").asInt()).isEqualTo(1);
    assertThat(status.at("/devices/0/reserved").asInt()).isEqualTo(1);
    assertThat(status.at("/devices/0/lastResort").asBoolean()).isTrue();
    assertThat(status.at("/devices/0/oldestExpiresAt").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");

    JsonNode synced = ok(alice.post("syncKeyPackages", Map.of("deviceId", phone.deviceId(),
        "keyPackageRefs", List.of(ref(k1).toUpperCase(), ref(last))))).json();
    assertThat(synced.get("kept").asInt()).isEqualTo(2);
    assertThat(synced.get("deleted").asInt()).isEqualTo(1);
    assertThat(synced.get("welcomesInvalidated").asInt()).isZero();
    JsonNode then = ok(bob.get("getKeyPackages", "dids", alice.did().value())).json();
    assertThat(then.at("/keyPackages/0/keyPackageRef").asText()).isEqualTo(ref(last));
    assertThat(then.at("/keyPackages/0/lastResort").asBoolean()).isTrue();

    JsonNode legacy = ok(alice.post("publishKeyPackage", Map.of("keyPackage", Base64.getEncoder().encodeToString(k2),
        "cipherSuite", SUITE.name()))).json();
    assertThat(legacy.get("keyPackageRef").asText()).isEqualTo(ref(k2));
    assertThat(legacy.get("deviceId").asText()).isEqualTo(phone.deviceId());
  }

  @Test
  void badInputIsANamedErrorAndChangesNothing() {
    TestUser alice = TestUser.on(server);
    TestUser bob = TestUser.on(server);
    TestUser.Device phone = alice.device();
    byte[] good = phone.keyPackage();
    ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(phone.keyPackage()),
        upload(phone.keyPackage()), upload(phone.keyPackage(true))))));
    ok(bob.get("getKeyPackages", "dids", alice.did().value()));
    String did = alice.did().value();
    String device = phone.deviceId();
    List<String> tooManyDids = new ArrayList<>();
    for (int i = 0; i <= 100; i++) {
      tooManyDids.add("dids");
      tooManyDids.add("did:plc:u" + i);
    }
    Instant now = Instant.now();
    byte[] foreign = TestKeyPackages.builder(SUITE, bob.did().value()).signingKey(phone.key).build();
    byte[] expired = TestKeyPackages.builder(SUITE, did).signingKey(phone.key)
        .lifetime(now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1))).build();
    String token = alice.token("publishKeyPackages");

    record Case(String name, int status, String error, Supplier<Http.Response> call) {}
    List<Case> cases = List.of(
        new Case("no keyPackages", 400, "InvalidRequest", () -> alice.post("publishKeyPackages", Map.of())),
        new Case("empty batch", 400, "InvalidRequest",
            () -> alice.post("publishKeyPackages", Map.of("keyPackages", List.of()))),
        new Case("101 items", 400, "InvalidRequest",
            () -> alice.post("publishKeyPackages", Map.of("keyPackages", Collections.nCopies(101, upload(good))))),
        new Case("item not an object", 400, "InvalidRequest",
            () -> alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(good), "AAAA")))),
        new Case("item without keyPackage", 400, "InvalidRequest",
            () -> alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(good), Map.of("lastResort", true))))),
        new Case("bytes not base64", 400, "InvalidRequest", () -> alice.post("publishKeyPackages",
            Map.of("keyPackages", List.of(upload(good), Map.of("keyPackage", Map.of("$bytes", "%%%")))))),
        new Case("lastResort not a boolean", 400, "InvalidRequest", () -> alice.post("publishKeyPackages",
            Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(good), "lastResort", "yes"))))),
        new Case("malformed JSON", 400, "InvalidRequest",
            () -> http.post("/xrpc/blue.catbird.mls.publishKeyPackages", token, "{\"keyPackages\": [")),
        new Case("body not an object", 400, "InvalidRequest",
            () -> http.post("/xrpc/blue.catbird.mls.publishKeyPackages", alice.token("publishKeyPackages"), "[]")),
        new Case("GET on a procedure", 405, "InvalidRequest", () -> alice.get("publishKeyPackages")),
        new Case("no token", 401, "AuthenticationRequired",
            () -> http.post("/xrpc/blue.catbird.mls.publishKeyPackages", null, "{}")),
        new Case("token for another method", 401, "BadTokenMethod", () -> http.post(
            "/xrpc/blue.catbird.mls.publishKeyPackages", alice.token("getKeyPackages"), "{}")),
        new Case("legacy: not a KeyPackage", 400, "InvalidKeyPackage", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(new byte[] {0, 1, 0, 5, 9}), "cipherSuite", SUITE.name()))),
        new Case("legacy: someone else's identity", 400, "InvalidKeyPackage", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(foreign), "cipherSuite", SUITE.name()))),
        new Case("legacy: expired", 400, "InvalidKeyPackage", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(expired), "cipherSuite", SUITE.name()))),
        new Case("legacy: suite mismatch", 400, "InvalidKeyPackage", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(good), "cipherSuite", "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"))),
        new Case("legacy: expires after not_after", 400, "InvalidKeyPackage", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(good), "cipherSuite", SUITE.name(), "expires", "2999-01-01T00:00:00.000Z"))),
        new Case("legacy: unknown suite", 400, "InvalidCipherSuite", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(good), "cipherSuite", "MLS_1024_ROT13"))),
        new Case("legacy: no suite", 400, "InvalidRequest",
            () -> alice.post("publishKeyPackage", Map.of("keyPackage", bytes(good)))),
        new Case("legacy: expires not a datetime", 400, "InvalidRequest", () -> alice.post("publishKeyPackage",
            Map.of("keyPackage", bytes(good), "cipherSuite", SUITE.name(), "expires", "tomorrow"))),
        new Case("claim: no dids", 400, "InvalidRequest", () -> bob.get("getKeyPackages")),
        new Case("claim: 101 dids", 400, "InvalidRequest", () -> bob.get("getKeyPackages", tooManyDids.toArray(String[]::new))),
        new Case("claim: a bad DID among good ones", 400, "InvalidRequest",
            () -> bob.get("getKeyPackages", "dids", did, "dids", "alice")),
        new Case("claim: unknown suite", 400, "InvalidCipherSuite",
            () -> bob.get("getKeyPackages", "dids", did, "cipherSuite", "0x9999")),
        new Case("claim: suite twice", 400, "InvalidRequest",
            () -> bob.get("getKeyPackages", "dids", did, "cipherSuite", "1", "cipherSuite", "2")),
        new Case("claim: POST on a query", 405, "InvalidRequest", () -> bob.post("getKeyPackages", Map.of("dids", List.of(did)))),
        new Case("status: unknown suite", 400, "InvalidCipherSuite",
            () -> alice.get("getKeyPackageStatus", "cipherSuite", "nope")),
        new Case("sync: no deviceId", 400, "InvalidRequest",
            () -> alice.post("syncKeyPackages", Map.of("keyPackageRefs", List.of()))),
        new Case("sync: bad deviceId", 400, "InvalidRequest",
            () -> alice.post("syncKeyPackages", Map.of("deviceId", device.toUpperCase(), "keyPackageRefs", List.of()))),
        new Case("sync: no keyPackageRefs", 400, "InvalidRequest",
            () -> alice.post("syncKeyPackages", Map.of("deviceId", device))),
        new Case("sync: a bad ref", 400, "InvalidRequest", () -> alice.post("syncKeyPackages",
            Map.of("deviceId", device, "keyPackageRefs", List.of(ref(good), "abc")))),
        new Case("sync: refs not strings", 400, "InvalidRequest", () -> alice.post("syncKeyPackages",
            Map.of("deviceId", device, "keyPackageRefs", List.of(1, 2)))),
        new Case("sync: 1001 refs", 400, "InvalidRequest", () -> alice.post("syncKeyPackages",
            Map.of("deviceId", device, "keyPackageRefs", Collections.nCopies(1001, ref(good))))));

    List<Map<String, Object>> before = snapshot(server);
    for (Case c : cases) {
      Http.Response r = c.call().get();
      assertThat(r.status()).as(c.name() + ": " + r.body()).isEqualTo(c.status());
      assertThat(r.error()).as(c.name() + ": " + r.body()).isEqualTo(c.error());
      assertThat(r.json().get("message").asText()).as(c.name()).isNotBlank();
      assertThat(snapshot(server)).as(c.name() + " changed the database").isEqualTo(before);
    }
  }

  @Test
  void claimsAreRateLimitedPerCallerAndPerTargetWith429AndRetryAfter() {
    Server limited = TestServers.start(TestDatabases.sqlite(),
        c -> withLimits(c, KeyPackageTesting.limits(200, 10, 5, 2)), Clock.systemUTC());
    try {
      TestUser alice = TestUser.on(limited);
      TestUser bob = TestUser.on(limited);
      TestUser carol = TestUser.on(limited);
      TestUser.Device phone = alice.device();
      List<Map<String, Object>> uploads = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        uploads.add(upload(phone.keyPackage()));
      }
      ok(alice.post("publishKeyPackages", Map.of("keyPackages", uploads)));
      String a = alice.did().value();

      ok(bob.get("getKeyPackages", "dids", a));
      ok(bob.get("getKeyPackages", "dids", a));
      List<Map<String, Object>> before = snapshot(limited);
      Http.Response third = bob.get("getKeyPackages", "dids", a);
      assertThat(third.status()).isEqualTo(429);
      assertThat(third.error()).isEqualTo("RateLimitExceeded");
      assertThat(Long.parseLong(third.headers().firstValue("Retry-After").orElseThrow())).isPositive();
      assertThat(snapshot(limited)).isEqualTo(before);
      // Another caller is not limited by bob's use of alice...
      ok(carol.get("getKeyPackages", "dids", a));
      // ...but every caller has a budget over all targets: carol has used 1 of 5; 4 more DIDs, then nothing.
      ok(carol.get("getKeyPackages", "dids", "did:plc:x1", "dids", "did:plc:x2", "dids", "did:plc:x3", "dids", "did:plc:x4"));
      Http.Response over = carol.get("getKeyPackages", "dids", "did:plc:x5");
      assertThat(over.status()).isEqualTo(429);
      assertThat(over.error()).isEqualTo("RateLimitExceeded");
    } finally {
      limited.stop();
    }
  }

  @Test
  void theLegacyFormAnswers409WhenTheDeviceIsFull() {
    Server small = TestServers.start(TestDatabases.sqlite(),
        c -> withLimits(c, KeyPackageTesting.limits(1, 10, 3000, 100)), Clock.systemUTC());
    try {
      TestUser alice = TestUser.on(small);
      TestUser.Device phone = alice.device();
      ok(alice.post("publishKeyPackage", Map.of("keyPackage", bytes(phone.keyPackage()), "cipherSuite", SUITE.name())));
      List<Map<String, Object>> before = snapshot(small);
      Http.Response full = alice.post("publishKeyPackage", Map.of("keyPackage", bytes(phone.keyPackage()),
          "cipherSuite", SUITE.name()));
      assertThat(full.status()).isEqualTo(409);
      assertThat(full.error()).isEqualTo("KeyPackageLimitReached");
      assertThat(snapshot(small)).isEqualTo(before);
      JsonNode batch = ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(phone.keyPackage()))))).json();
      assertThat(batch.at("/results/0/status").asText()).isEqualTo("rejected");
      assertThat(batch.at("/results/0/error").asText()).isEqualTo("KeyPackageLimitReached");
    } finally {
      small.stop();
    }
  }

  @Test
  void aFullBatchOfLargeKeyPackagesFitsAndAnOversizedOneIsRejectedByRule() {
    TestUser alice = TestUser.on(server);
    TestUser.Device phone = alice.device();
    List<Map<String, Object>> uploads = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      uploads.add(upload(TestKeyPackages.builder(SUITE, alice.did().value()).signingKey(phone.key)
          .leafExtension(0xF0F0, new byte[15_000], true).build()));
    }
    JsonNode out = ok(alice.post("publishKeyPackages", Map.of("keyPackages", uploads))).json();
    assertThat(out.get("results")).allSatisfy(r -> assertThat(r.get("status").asText()).isEqualTo("published"));

    byte[] huge = TestKeyPackages.builder(SUITE, alice.did().value()).signingKey(phone.key)
        .leafExtension(0xF0F0, new byte[70_000], true).build();
    JsonNode rejected = ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(huge))))).json();
    assertThat(rejected.at("/results/0/error").asText()).isEqualTo("InvalidKeyPackage");
    assertThat(rejected.at("/results/0/message").asText()).startsWith("size:");
  }

  @Test
  void anIdempotentPublishReplaysTheFirstResult() {
    TestUser alice = TestUser.on(server);
    TestUser.Device phone = alice.device();
    Map<String, Object> body = Map.of("keyPackages", List.of(upload(phone.keyPackage())), "idempotencyKey", "k-1");
    String first = ok(alice.post("publishKeyPackages", body)).body();
    String second = ok(alice.post("publishKeyPackages", body)).body();
    assertThat(second).isEqualTo(first).contains("\"published\"");
  }

  @Test
  void metricsCountPublishesClaimsAndThePerUserDistribution() {
    TestUser alice = TestUser.on(server);
    TestUser bob = TestUser.on(server);
    ok(alice.post("publishKeyPackages", Map.of("keyPackages", List.of(upload(alice.device().keyPackage())))));
    ok(bob.get("getKeyPackages", "dids", alice.did().value(), "dids", "did:plc:nobody"));
    String metrics = http.get("/metrics", null).body();
    assertThat(metrics)
        .containsPattern("mlsds_keypackages_published_total\\{outcome=\"published\"[^}]*} [1-9]")
        .containsPattern("mlsds_keypackages_claims_total\\{outcome=\"one_time\"[^}]*} [1-9]")
        .containsPattern("mlsds_keypackages_claims_total\\{outcome=\"missing\"[^}]*} [1-9]")
        .contains("mlsds_keypackages_consumed_total")
        .containsPattern("mlsds_keypackages_per_user_count [1-9]")
        .contains("mlsds_keypackages_per_user_bucket{le=\"10.0\"}")
        .doesNotContain(alice.did().value());
  }

  static Config withLimits(Config c, Config.Limits limits) {
    return new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(), c.allowDidKey(),
        c.plcUrl(), c.didWebAllowedInsecureHosts(), c.metricsToken(), limits);
  }
}
