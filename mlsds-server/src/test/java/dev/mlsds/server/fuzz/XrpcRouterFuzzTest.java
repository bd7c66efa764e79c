package dev.mlsds.server.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.limits.Bounds;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.server.xrpc.Json;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of the XRPC router and every handler behind it (Jazzer), in process: a complete node
 * (the same wiring as {@code mlsds serve}, SQLite) with real users, KeyPackages and a conversation with members;
 * each input picks a registered method (or none), a caller, the HTTP verb, and builds the query or the JSON body
 * from a vocabulary of the lexicons' field names whose values are real (the conversation, members' DIDs, MLS
 * objects, possibly truncated or altered by the input) or raw input. The property: no answer is a 5xx, and every
 * answer that is not a 200 has the XRPC error envelope.
 *
 * <p>The normal build runs it in regression mode (the seeds under {@code XrpcRouterFuzzTestInputs}); fuzzing runs
 * on demand with {@code JAZZER_FUZZ=1} (docs/RELIABILITY.md).
 */
class XrpcRouterFuzzTest {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final String[] FIELDS = {"convoId", "ciphertext", "commit", "welcome", "groupInfo", "didList", "dids",
      "targetDid", "epoch", "keyPackages", "keyPackage", "deviceId", "keyPackageRefs", "success", "seq",
      "idempotencyKey", "msgId", "cipherSuite", "groupId", "limit", "sinceSeq", "fromEpoch", "toEpoch",
      "adminOnlyAdds", "metadata", "senderDid", "cursor", "errorDetails", "reason", "initialMembers", "lastResort",
      "handshakePolicy", "sinceMessage", "welcomeMessage", "expires"};
  static final String[] VERBS = {"GET", "POST", "PUT", "DELETE"};

  static Server server;
  static HttpClient http;
  static List<TestUser> users = new ArrayList<>();
  static List<String> methods;
  static byte[] group;
  static List<byte[]> mls = new ArrayList<>();

  @BeforeAll
  static void start() {
    server = TestServers.start(TestDatabases.sqlite(), XrpcRouterFuzzTest::unlimited, Clock.systemUTC());
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    for (int i = 0; i < 3; i++) {
      users.add(TestUser.on(server));
    }
    methods = new ArrayList<>(server.router().methods().keySet());
    group = new byte[16];
    new java.security.SecureRandom().nextBytes(group);
    TestUser alice = users.get(0);
    List<byte[]> kps = new ArrayList<>();
    for (TestUser u : users) {
      TestUser.Device d = u.device();
      byte[] kp = d.keyPackage();
      kps.add(kp);
      u.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", TestUser.bytes(kp)),
          Map.of("keyPackage", TestUser.bytes(d.keyPackage())))));
    }
    alice.post("createConvo", Map.of("groupId", HexFormat.of().formatHex(group), "cipherSuite", SUITE.name()));
    mls.add(kps.get(1));
    mls.add(TestMessages.commit(group, 0, 0, List.of(kps.get(1)), List.of(), false));
    mls.add(TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kps.get(1)).ref())));
    mls.add(TestMessages.groupInfo(SUITE, group, 1, true));
    mls.add(TestMessages.privateMessage(group, 1, ContentType.APPLICATION));
    mls.add(TestMessages.privateMessage(group, 1, ContentType.COMMIT));
    mls.add(TestMessages.removeProposal(group, 1, new Sender(Sender.Type.MEMBER, 0), 1));
    mls.add(TestMessages.externalCommit(group, 1, users.get(2).did().value(), List.of()));
    mls.add(TestMessages.commit(group, 1, 0, List.of(), List.of(1L), true));
  }

  static Config unlimited(Config c) {
    Config.Limits d = c.limits();
    Config.Limits l = new Config.Limits(d.keyPackageMaxBytes(), d.keyPackagesPerPublish(),
        d.availableKeyPackagesPerDevice(), d.keyPackageMaxLifetime(), d.reservationLease(), d.didsPerGetKeyPackages(),
        d.membersPerConvo(), d.messageMaxBytes(), d.requestMaxBytes(), d.applicationEpochWindow(), d.welcomeGrace(),
        d.tokenMaxLifetime(), d.keyPackageLowThreshold(), 0, 0, 0);
    Bounds b = c.bounds();
    return new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(), c.allowDidKey(),
        c.plcUrl(), c.didWebAllowedInsecureHosts(), c.metricsToken(), l, c.storage(),
        b.withInFlightPerCaller(1000).withDid(b.didFetchConcurrency(), 0, b.didNegativeCacheSize())
            .withSqliteSynchronous("NORMAL"));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.stop();
    }
  }

  @FuzzTest(maxDuration = "5m")
  void everyAnswerIsAnXrpcAnswerNeverA5xx(FuzzedDataProvider data) throws Exception {
    String nsid = data.consumeInt(0, 15) == 0 ? "blue.catbird.mls." + data.consumeString(20)
        : methods.get(data.consumeInt(0, methods.size() - 1));
    TestUser caller = users.get(data.consumeInt(0, users.size() - 1));
    String verb = data.consumeBoolean() ? null : VERBS[data.consumeInt(0, VERBS.length - 1)];
    boolean rawBody = data.consumeInt(0, 7) == 0;
    Map<String, Object> fields = new LinkedHashMap<>();
    int n = data.consumeInt(0, 6);
    for (int i = 0; i < n; i++) {
      fields.put(FIELDS[data.consumeInt(0, FIELDS.length - 1)], value(data, 0));
    }
    StringBuilder query = new StringBuilder();
    for (Map.Entry<String, Object> e : fields.entrySet()) {
      Object v = e.getValue();
      for (Object one : v instanceof List<?> list ? list : List.of(v)) {
        query.append(query.isEmpty() ? '?' : '&').append(e.getKey()).append('=')
            .append(URLEncoder.encode(one instanceof Map<?, ?> ? Json.write(one) : String.valueOf(one),
                StandardCharsets.UTF_8));
      }
    }
    byte[] body = rawBody ? data.consumeRemainingAsBytes() : Json.write(fields).getBytes(StandardCharsets.UTF_8);
    boolean isQuery = server.router().methods().containsKey(nsid)
        && server.router().methods().get(nsid).kind() == dev.mlsds.server.xrpc.XrpcRouter.Kind.QUERY;
    if (verb == null) {
      verb = isQuery ? "GET" : "POST";
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/xrpc/"
            + URLEncoder.encode(nsid, StandardCharsets.UTF_8) + (isQuery ? query : "")))
        .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + caller.token(nsid.substring(
            Math.min(nsid.length(), TestUser.NS.length()))));
    b = verb.equals("GET") || verb.equals("DELETE") ? b.method(verb, HttpRequest.BodyPublishers.noBody())
        : b.header("Content-Type", "application/json").method(verb, HttpRequest.BodyPublishers.ofByteArray(body));
    HttpRequest request = b.build();
    HttpResponse<String> r;
    try {
      r = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException stale) {
      // A pooled connection the node closed while idle (its keep-alive deadline; the fuzzer can pause longer
      // than that) ends the next send with EOF: that is not an answer to this input, so send it once more on a
      // new connection. The node closing a fresh connection without an answer is a finding.
      try (HttpClient fresh = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
        r = fresh.send(request, HttpResponse.BodyHandlers.ofString());
      }
    }
    assertThat(r.statusCode()).as("%s %s -> %s", verb, nsid, r.body()).isLessThan(500);
    if (r.statusCode() != 200) {
      assertThat(Json.MAPPER.readTree(r.body()).path("error").isTextual()).as(r.body()).isTrue();
    }
  }

  /** A field's value: real (the conversation, a member, an MLS object, maybe altered) or made from the input. */
  static Object value(FuzzedDataProvider data, int depth) {
    switch (data.consumeInt(0, depth > 1 ? 8 : 11)) {
      case 0 -> {
        return HexFormat.of().formatHex(group);
      }
      case 1 -> {
        return users.get(data.consumeInt(0, users.size() - 1)).did().value();
      }
      case 2, 3 -> {
        byte[] m = mls.get(data.consumeInt(0, mls.size() - 1)).clone();
        int edits = data.consumeInt(0, 3);
        for (int i = 0; i < edits && m.length > 0; i++) {
          m[data.consumeInt(0, m.length - 1)] = data.consumeByte();
        }
        if (data.consumeBoolean() && m.length > 0) {
          m = java.util.Arrays.copyOf(m, data.consumeInt(0, m.length - 1));
        }
        return Map.of("$bytes", Base64.getEncoder().withoutPadding().encodeToString(m));
      }
      case 4 -> {
        return data.consumeString(64);
      }
      case 5 -> {
        return data.consumeLong();
      }
      case 6 -> {
        return data.consumeInt(-2, 5);
      }
      case 7 -> {
        return data.consumeBoolean();
      }
      case 8 -> {
        return Map.of("$bytes", data.consumeString(40));
      }
      case 9 -> {
        List<Object> list = new ArrayList<>();
        int n = data.consumeInt(0, 4);
        for (int i = 0; i < n; i++) {
          list.add(value(data, depth + 1));
        }
        return list;
      }
      case 10 -> {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(data.consumeBoolean() ? "keyPackage" : FIELDS[data.consumeInt(0, FIELDS.length - 1)], value(data, depth + 1));
        return m;
      }
      default -> {
        return SUITE.name();
      }
    }
  }
}
