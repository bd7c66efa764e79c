package dev.mlsds.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.Device.Received;
import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * What every end-to-end test stands on: one full mlsds node per test class (the same {@link Wiring} as
 * {@code mlsds serve}, dev profile, port 0) over a fresh database of the subclass's backend; users with
 * their own did:key; devices as agent processes, all killed after each test; and the client steps
 * (commit bundles, Welcome join, key updates) written once, the way a client app would do them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class E2eFixture {
  static final String SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
  private static final SecureRandom RANDOM = new SecureRandom();

  Server server;
  private final List<MlsAgent> agents = new ArrayList<>();
  /** One agent process started ahead of need: Node's start-up overlaps with the test's other work. */
  private MlsAgent spare;

  /** A fresh, empty database for this class's node. */
  abstract String openDatabase();

  abstract void closeDatabase();

  @BeforeAll
  void startServer() {
    Config d = Config.devDefaults();
    // The dev profile on a free loopback port: did:key tokens accepted, service DID did:web:localhost.
    Config config = new Config(d.profile(), "127.0.0.1", 0, Path.of("unused"), openDatabase(), d.serviceDid(), true,
        d.plcUrl(), d.didWebAllowedInsecureHosts(), null, d.limits());
    server = Wiring.build(config, Clock.systemUTC()).start();
  }

  @AfterEach
  void stopAgents() {
    agents.forEach(MlsAgent::close);
    agents.clear();
  }

  @AfterAll
  void stopServer() {
    if (spare != null) {
      spare.close();
    }
    try {
      if (server != null) {
        server.stop();
      }
    } finally {
      closeDatabase();
    }
  }

  // ---- fixtures -------------------------------------------------------------------------------------

  User user(String name) {
    return new User(name, server.port(), server.config().serviceDid());
  }

  /** A new device (agent process) of {@code user}, killed after the test. */
  Device device(User user) {
    MlsAgent agent = spare != null ? spare : MlsAgent.start("device");
    agents.add(agent);
    spare = MlsAgent.start("device");
    agent.rename(user.name + "-" + agents.size());
    return new Device(user, agent);
  }

  /** A new device of {@code user} on the in-process Bouncy Castle MLS client (bcmls 1.84, {@link BcMlsClient}). */
  Device bcDevice(User user) {
    return new Device(user, new BcMlsAgent(user.name + "-bc"));
  }

  static String newGroupId() {
    byte[] id = new byte[16];
    RANDOM.nextBytes(id);
    return HexFormat.of().formatHex(id);
  }

  /** {@code getKeyPackages} by {@code caller} for {@code targets}: the KeyPackages handed out, in order. */
  static JsonNode claim(User caller, User... targets) {
    List<String> params = new ArrayList<>();
    for (User t : targets) {
      params.add("dids");
      params.add(t.did());
    }
    JsonNode out = caller.get("getKeyPackages", params.toArray(String[]::new)).ok();
    assertThat(out.path("missing")).as("missing in %s", out).isEmpty();
    return out.path("keyPackages");
  }

  static List<String> keyPackageBytes(JsonNode claimed) {
    return StreamSupport.stream(claimed.spliterator(), false).map(k -> standard(k.path("keyPackage").asText())).toList();
  }

  /**
   * {@code getKeyPackages.keyPackage} and {@code getWelcome.welcome} are base64url strings (the 2025 lexicon's
   * form); the agents take standard base64.
   */
  static String standard(String base64url) {
    return java.util.Base64.getEncoder().encodeToString(java.util.Base64.getUrlDecoder().decode(base64url));
  }

  /** A conversation with no members but its creator: createConvo without a commit (epoch 0). */
  static String createEmptyConvo(Device creator) {
    String g = newGroupId();
    creator.agent.call("createGroup", "groupId", g);
    JsonNode convo = creator.user.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE)).ok();
    assertThat(convo.path("epoch").asLong()).isZero();
    return g;
  }

  /**
   * {@code committer} adds {@code users} with the claimed KeyPackages through {@code addMembers}, applying its
   * pending commit only after the server accepted the bundle. Returns the addMembers output.
   */
  static JsonNode addMembers(Device committer, String g, JsonNode claimed, User... users) {
    JsonNode pending = committer.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claimed));
    JsonNode out = committer.user.post("addMembers", Map.of("convoId", g,
        "didList", StreamSupport.stream(List.of(users).spliterator(), false).map(User::did).toList(),
        "commit", Device.bytes(pending.path("commit").asText()),
        "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    assertThat(out.path("newEpoch").asLong()).isEqualTo(pending.path("newEpoch").asLong());
    assertThat(committer.agent.call("applyPending", "groupId", g).path("epoch").asLong()).isEqualTo(out.path("newEpoch").asLong());
    return out;
  }

  /** The device fetches its Welcome, joins with it and confirms it. Returns the getWelcome output. */
  static JsonNode fetchJoinConfirm(Device d, String g) {
    return fetchJoinConfirm(d, g, g);
  }

  /** As {@link #fetchJoinConfirm(Device, String)}, for a conversation whose MLS group is {@code group} (after a reset). */
  static JsonNode fetchJoinConfirm(Device d, String g, String group) {
    JsonNode w = d.user.get("getWelcome", "convoId", g, "deviceId", d.deviceId).ok();
    assertThat(w.path("convoId").asText()).isEqualTo(g);
    assertThat(w.path("deviceId").asText()).isEqualTo(d.deviceId);
    JsonNode joined = d.join(standard(w.path("welcome").asText()));
    assertThat(joined.path("groupId").asText()).isEqualTo(group);
    assertThat(joined.path("keyPackageRef").asText()).as("the Welcome opens with the KeyPackage the server named")
        .isEqualTo(w.path("keyPackageRef").asText());
    d.user.post("confirmWelcome", Map.of("convoId", g, "deviceId", d.deviceId, "success", true)).ok();
    return w;
  }

  /** A key-update commit (empty commit with a path) through sendMessage, then the new GroupInfo. */
  static User.Response updateCommit(Device d, String g) {
    JsonNode pending = d.agent.call("update", "groupId", d.group(g));
    User.Response r = d.user.post("sendMessage", Map.of("convoId", g, "ciphertext", Device.bytes(pending.path("commit").asText())));
    if (r.status() == 200) {
      d.agent.call("applyPending", "groupId", d.group(g));
      d.user.post("updateGroupInfo", Map.of("convoId", g, "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    }
    return r;
  }

  static long serverEpoch(User u, String g) {
    return u.get("getEpoch", "convoId", g).ok().path("currentEpoch").asLong();
  }

  /** Other devices' commits among what a device received (its own come back too, already applied). */
  static List<Received> commits(List<Received> received) {
    return received.stream().filter(r -> "commit".equals(r.result().path("kind").asText()) && !r.own()).toList();
  }

  /** The payloads of this conversation's stored events of {@code type}, oldest first (read from the database). */
  List<Map<String, Object>> storedEvents(String g, String type) {
    List<Map<String, Object>> out = new ArrayList<>();
    try (Connection c = server.database().dataSource().getConnection();
        PreparedStatement s = c.prepareStatement(
            "SELECT payload FROM convo_events WHERE convo_id = ? AND type = ? ORDER BY seq, idx")) {
      s.setString(1, g);
      s.setString(2, type);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          @SuppressWarnings("unchecked")
          Map<String, Object> payload = User.JSON.readValue(rs.getString(1), LinkedHashMap.class);
          out.add(payload);
        }
      }
    } catch (SQLException | java.io.IOException e) {
      throw new AssertionError("cannot read convo_events", e);
    }
    return out;
  }

  /** Runs two calls at the same instant (after a barrier), each bounded; returns both results. */
  static <T> List<T> concurrently(java.util.function.Supplier<T> first, java.util.function.Supplier<T> second) {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      CyclicBarrier start = new CyclicBarrier(2);
      CompletableFuture<T> a = CompletableFuture.supplyAsync(() -> { await(start); return first.get(); }, pool);
      CompletableFuture<T> b = CompletableFuture.supplyAsync(() -> { await(start); return second.get(); }, pool);
      return List.of(a.get(30, TimeUnit.SECONDS), b.get(30, TimeUnit.SECONDS));
    } catch (Exception e) {
      throw new AssertionError("concurrent calls failed", e);
    } finally {
      pool.shutdownNow();
    }
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
