package dev.mlsds.benchmarks.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mlsds.benchmarks.fuzz.Generator.Request;
import dev.mlsds.benchmarks.fuzz.World.Convo;
import dev.mlsds.benchmarks.fuzz.World.User;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code benchmarks/run fuzz}: lexicon-driven HTTP fuzzing of a real node in its own process (docs/RELIABILITY.md).
 *
 * <p>Starts {@code mlsds serve} on SQLite or on a fresh PostgreSQL database, sets up real users (did:key),
 * devices, KeyPackages and conversations with members, then sends {@code --requests} requests from
 * {@code --workers} keep-alive connections, each built by {@link Generator} from the lexicons (valid-shaped,
 * then mostly mutated) with a fresh valid token of a real member unless the token is the mutation. Afterwards
 * it checks: no 5xx, no request over the deadline, no connection dropped without a response, the node still
 * ready, and the database invariants (seq gap-free per conversation and equal to its latest_seq, at most one
 * Commit per epoch, no non-last-resort KeyPackage in two conversations' Welcomes or handed to two callers within
 * its lease, every acknowledged sendMessage stored at its seq). Prints one JSON line; exit status 1 on any failure.
 * Requests that got a 5xx or hit the deadline are written to the report folder, byte for byte, to replay.
 */
public final class HttpFuzz {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String AUD = "did:web:localhost";
  private static final long LEASE_MS = 10 * 60_000;

  /** Run settings. {@code classpath}: where the server's classes are (this JVM's class path by default). */
  public record Options(String backend, long requests, int workers, long seed, int deadlineMs, int users, int convos,
      Path out, Path lexicons, String classpath, String pgAdminUrl, String serverJvmOpts, long maxSeconds) {
    public Options(String backend, long requests, int workers, long seed, int deadlineMs, int users, int convos,
        Path out, Path lexicons, String classpath, String pgAdminUrl, String serverJvmOpts) {
      this(backend, requests, workers, seed, deadlineMs, users, convos, out, lexicons, classpath, pgAdminUrl,
          serverJvmOpts, 0);
    }

    public static Options defaults(String backend, long requests) {
      return new Options(backend, requests, 16, new SecureRandom().nextLong(), 10_000, 8, 24,
          Path.of("target", "fuzz"), Path.of("lexicons", "blue", "catbird", "mls"),
          System.getProperty("java.class.path"),
          System.getenv().getOrDefault("MLSDS_TEST_PG_URL", "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres"), "");
    }
  }

  /** What a run found; {@link #ok()} when nothing failed. */
  public record Result(String backend, long requests, double seconds, long seed, Map<String, Long> byStatus,
      long status5xx, long overDeadline, long connectionErrors, long maxLatencyMs, long p99LatencyMs,
      List<String> violations, long acknowledgedMessages, Map<String, Map<String, Long>> byMethod, boolean serverReady,
      Path out) {
    public boolean ok() {
      return status5xx == 0 && overDeadline == 0 && connectionErrors == 0 && violations.isEmpty() && serverReady;
    }

    public String json() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("backend", backend);
      m.put("requests", requests);
      m.put("seconds", Math.round(seconds * 10) / 10.0);
      m.put("reqPerSec", Math.round(requests / Math.max(0.001, seconds)));
      m.put("seed", seed);
      m.put("status5xx", status5xx);
      m.put("overDeadline", overDeadline);
      m.put("connectionErrors", connectionErrors);
      m.put("maxLatencyMs", maxLatencyMs);
      m.put("p99LatencyMs", p99LatencyMs);
      m.put("acknowledgedMessages", acknowledgedMessages);
      m.put("violations", violations);
      m.put("serverReady", serverReady);
      m.put("byStatus", byStatus);
      m.put("byMethod", byMethod);
      m.put("ok", ok());
      try {
        return JSON.writeValueAsString(m);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private final Options o;
  private final Path work;
  private Process server;
  private int port;
  private final Map<String, LongAdder> statuses = new ConcurrentHashMap<>();
  private final Map<String, Map<String, LongAdder>> byMethod = new ConcurrentHashMap<>();
  private final LongAdder s5xx = new LongAdder();
  private final LongAdder deadline = new LongAdder();
  private final LongAdder connErrors = new LongAdder();
  private final AtomicLong maxLatency = new AtomicLong();
  private final LongAdder[] latencyBuckets = new LongAdder[64];
  private final AtomicInteger samples = new AtomicInteger();
  private final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
  private final Map<String, long[]> handouts = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<String[]> acks = new ConcurrentLinkedQueue<>();
  private World world;
  private final AtomicLong sent = new AtomicLong();
  private volatile long stopAt = Long.MAX_VALUE;

  public HttpFuzz(Options o) throws IOException {
    this.o = o;
    this.work = Files.createTempDirectory("mlsds-fuzz");
    for (int i = 0; i < latencyBuckets.length; i++) {
      latencyBuckets[i] = new LongAdder();
    }
  }

  public static void main(String[] args) throws Exception {
    Options o = parse(args);
    Result r = new HttpFuzz(o).run();
    System.out.println(r.json());
    System.exit(r.ok() ? 0 : 1);
  }

  static Options parse(String[] args) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("fuzz")) {
        continue;
      }
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("usage: fuzz --backend sqlite|postgres --requests N [--workers W] [--seed S]"
            + " [--deadline-ms MS] [--users U] [--convos C] [--out DIR] [--server-jvm-opts '...'] [--max-seconds S]"
            + " (stop sending after S seconds, then check and report); bad: " + args[i]);
      }
      m.put(args[i], args[++i]);
    }
    Options d = Options.defaults(m.getOrDefault("--backend", "sqlite"), Long.parseLong(m.getOrDefault("--requests", "20000")));
    if (!d.backend().equals("sqlite") && !d.backend().equals("postgres")) {
      throw new IllegalArgumentException("--backend must be sqlite or postgres");
    }
    return new Options(d.backend(), d.requests(), Integer.parseInt(m.getOrDefault("--workers", "16")),
        m.containsKey("--seed") ? Long.parseLong(m.get("--seed")) : d.seed(),
        Integer.parseInt(m.getOrDefault("--deadline-ms", "10000")), Integer.parseInt(m.getOrDefault("--users", "8")),
        Integer.parseInt(m.getOrDefault("--convos", "24")), Path.of(m.getOrDefault("--out", d.out().toString())),
        d.lexicons(), d.classpath(), d.pgAdminUrl(), m.getOrDefault("--server-jvm-opts", ""),
        Long.parseLong(m.getOrDefault("--max-seconds", "0")));
  }

  public Result run() throws Exception {
    LexiconMethods lexicons = new LexiconMethods(o.lexicons());
    Files.createDirectories(o.out());
    String dbName = null;
    String url;
    if (o.backend().equals("postgres")) {
      dbName = "mlsds_fuzz_" + Long.toHexString(new SecureRandom().nextLong() & Long.MAX_VALUE);
      try (Connection c = DriverManager.getConnection(o.pgAdminUrl()); Statement s = c.createStatement()) {
        s.execute("CREATE DATABASE " + dbName);
      }
      url = o.pgAdminUrl().replaceFirst("/postgres(\\?|$)", "/" + dbName + "$1");
    } else {
      url = "jdbc:sqlite:" + work.resolve("server/mlsds.db");
    }
    try {
      startServer(url);
      setUp();
      progress("fuzzing %s: %d requests, %d workers, seed %d", o.backend(), o.requests(), o.workers(), o.seed());
      long t0 = System.nanoTime();
      fuzz(lexicons);
      double seconds = (System.nanoTime() - t0) / 1e9;
      boolean ready = server.isAlive() && ready();
      checkDatabase(url);
      Result r = result(seconds, ready);
      progress("%s", r.json());
      return r;
    } finally {
      stopServer();
      if (dbName != null) {
        try (Connection c = DriverManager.getConnection(o.pgAdminUrl()); Statement s = c.createStatement()) {
          s.execute("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)");
        }
      }
    }
  }

  // ---- the server ----

  private void startServer(String url) throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    if (!o.serverJvmOpts().isBlank()) {
      cmd.addAll(List.of(o.serverJvmOpts().trim().split("\\s+")));
    }
    cmd.addAll(List.of("-cp", o.classpath(), "dev.mlsds.server.Main", "serve"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(o.out().resolve("server-"
        + o.backend() + ".log").toFile());
    Map<String, String> env = pb.environment();
    env.put("MLSDS_PROFILE", "dev");
    env.put("MLSDS_BIND", "127.0.0.1");
    env.put("MLSDS_PORT", String.valueOf(port));
    env.put("MLSDS_DATA_DIR", work.resolve("server").toString());
    env.put("MLSDS_DATABASE_URL", url);
    env.put("MLSDS_SERVICE_DID", AUD);
    env.put("MLSDS_ALLOW_DID_KEY", "true");
    // The fuzzer is a few callers sending as fast as they can from one address: lift the per-caller rate limits
    // (they would answer most requests with 429 before any validation ran). Everything else is the default.
    env.put("MLSDS_RATE_LIMIT_PER_MINUTE", String.valueOf(Integer.MAX_VALUE / 2));
    env.put("MLSDS_RATE_LIMIT_BYTES_PER_MINUTE", String.valueOf(Long.MAX_VALUE / 4));
    env.put("MLSDS_IN_FLIGHT_PER_CALLER", "1000");
    env.put("MLSDS_DID_FAILURES_PER_ADDRESS_PER_MINUTE", "0");
    env.put("MLSDS_COMMITS_PER_MEMBER_PER_MINUTE", "0");
    server = pb.start();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < until) {
      if (!server.isAlive()) {
        throw new IllegalStateException("server exited; see " + o.out().resolve("server-" + o.backend() + ".log"));
      }
      if (ready()) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("server not ready after 90 s");
  }

  private boolean ready() {
    try (RawHttp h = new RawHttp("127.0.0.1", port, 5000)) {
      return h.exchange("GET", "/health/ready", new String[0], null).status() == 200;
    } catch (IOException e) {
      return false;
    }
  }

  private void stopServer() throws InterruptedException {
    if (server != null) {
      server.destroy();
      if (!server.waitFor(20, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    }
  }

  // ---- the world: users, KeyPackages, conversations with members ----

  private void setUp() throws Exception {
    List<User> users = new ArrayList<>();
    for (int i = 0; i < o.users(); i++) {
      users.add(new User(DevIdentity.generate(KeyType.P256), SigningKey.generate(World.SUITE)));
    }
    world = new World(AUD, users);
    try (RawHttp h = new RawHttp("127.0.0.1", port, 30_000)) {
      for (User u : users) {
        List<Object> items = new ArrayList<>();
        for (int k = 0; k < 20; k++) {
          byte[] kp = u.keyPackage(k == 0);
          items.add(Map.of("keyPackage", bytes(kp)));
          u.refs.add(HexFormat.of().formatHex(KeyPackage.decode(kp).ref()));
        }
        call(h, u, "publishKeyPackages", Map.of("keyPackages", items));
      }
      SecureRandom random = new SecureRandom();
      for (int c = 0; c < o.convos(); c++) {
        int creator = c % users.size();
        byte[] g = new byte[16];
        random.nextBytes(g);
        User u = users.get(creator);
        call(h, u, "createConvo", Map.of("groupId", HexFormat.of().formatHex(g), "cipherSuite", World.SUITE.name()));
        Convo convo = new Convo(g, creator);
        world.convos.add(convo);
        // Two more members: claim their KeyPackages, then add them with a Commit and a Welcome naming them.
        List<Integer> added = List.of((creator + 1) % users.size(), (creator + 2 + c) % users.size());
        List<byte[]> kps = new ArrayList<>();
        List<String> dids = new ArrayList<>();
        for (int a : added) {
          if (a == creator || dids.contains(users.get(a).did())) {
            continue;
          }
          JsonNode r = get(h, u, "getKeyPackages", "dids=" + users.get(a).did());
          for (JsonNode k : r.path("keyPackages")) {
            kps.add(Base64.getUrlDecoder().decode(k.get("keyPackage").asText()));
          }
          dids.add(users.get(a).did());
        }
        byte[] commit = TestMessages.commit(g, 0, 0, kps, List.of(), false);
        byte[] welcome = TestMessages.welcome(World.SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
        byte[] groupInfo = TestMessages.groupInfo(World.SUITE, g, 1, true);
        call(h, u, "addMembers", Map.of("convoId", convo.id, "didList", dids, "commit", bytes(commit),
            "welcome", bytes(welcome), "groupInfo", bytes(groupInfo)));
        convo.epoch.set(1);
        for (int a : added) {
          convo.members.add(a);
        }
      }
    }
    progress("set up %d users, %d conversations with members", users.size(), world.convos.size());
  }

  private static Map<String, String> bytes(byte[] b) {
    return Map.of("$bytes", Base64.getEncoder().withoutPadding().encodeToString(b));
  }

  private JsonNode call(RawHttp h, User u, String method, Map<String, ?> body) throws IOException {
    String token = u.identity.token(AUD, World.NS + method);
    RawHttp.Response r = h.exchange("POST", "/xrpc/" + World.NS + method, new String[] {"Authorization: Bearer " + token,
        "Content-Type: application/json"}, JSON.writeValueAsBytes(body));
    if (r.status() != 200) {
      throw new IllegalStateException("set-up " + method + " answered " + r.status() + ": " + r.text());
    }
    return JSON.readTree(r.body());
  }

  private JsonNode get(RawHttp h, User u, String method, String query) throws IOException {
    String token = u.identity.token(AUD, World.NS + method);
    RawHttp.Response r = h.exchange("GET", "/xrpc/" + World.NS + method + "?" + query,
        new String[] {"Authorization: Bearer " + token}, null);
    if (r.status() != 200) {
      throw new IllegalStateException("set-up " + method + " answered " + r.status() + ": " + r.text());
    }
    return JSON.readTree(r.body());
  }

  // ---- the run ----

  private void fuzz(LexiconMethods lexicons) throws InterruptedException {
    AtomicLong next = new AtomicLong();
    AtomicLong done = sent;
    if (o.maxSeconds() > 0) {
      stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(o.maxSeconds());
    }
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < o.workers(); w++) {
      long seed = o.seed() * 31 + w;
      threads.add(Thread.ofPlatform().name("fuzz-" + w).start(() -> worker(lexicons, seed, next, done)));
    }
    long last = System.nanoTime();
    for (Thread t : threads) {
      while (!t.join(java.time.Duration.ofSeconds(10))) {
        if (System.nanoTime() - last > TimeUnit.SECONDS.toNanos(30)) {
          last = System.nanoTime();
          progress("%d / %d requests, %d 5xx, %d over deadline", done.get(), o.requests(), s5xx.sum(), deadline.sum());
        }
      }
    }
  }

  private void worker(LexiconMethods lexicons, long seed, AtomicLong next, AtomicLong done) {
    Generator g = new Generator(lexicons, world, "127.0.0.1", port, seed);
    RawHttp h = new RawHttp("127.0.0.1", port, o.deadlineMs());
    try {
      while (next.getAndIncrement() < o.requests() && System.nanoTime() < stopAt) {
        Request req = g.next();
        long t0 = System.nanoTime();
        try {
          RawHttp.Response r = h.send(req.bytes(), false);
          latency(System.nanoTime() - t0);
          record(req, r);
        } catch (RawHttp.DeadlineExceeded e) {
          latency(System.nanoTime() - t0);
          deadline.increment();
          sample("deadline", req, e.getMessage());
        } catch (IOException e) {
          connErrors.increment();
          sample("connection", req, e.toString());
        } catch (RuntimeException e) {
          connErrors.increment();
          sample("client", req, e.toString());
        }
        if (req.closeAfter()) {
          h.close();
        }
        done.incrementAndGet();
      }
    } finally {
      h.close();
    }
  }

  private void latency(long nanos) {
    long ms = TimeUnit.NANOSECONDS.toMillis(nanos);
    maxLatency.accumulateAndGet(ms, Math::max);
    latencyBuckets[64 - Long.numberOfLeadingZeros(Math.max(1, nanos / 1000))].increment();
  }

  private void record(Request req, RawHttp.Response r) {
    String status = Integer.toString(r.status());
    statuses.computeIfAbsent(status, k -> new LongAdder()).increment();
    String method = req.nsid().substring(World.NS.length());
    byMethod.computeIfAbsent(method, k -> new ConcurrentHashMap<>()).computeIfAbsent(status, k -> new LongAdder())
        .increment();
    if (r.status() >= 500) {
      s5xx.increment();
      sample("5xx", req, r.status() + " " + r.text());
    } else if (r.status() == 200) {
      observe(req, r);
    }
  }

  /** Learns from successful calls (epochs, sequence numbers, new conversations, claims) and checks handouts. */
  private void observe(Request req, RawHttp.Response r) {
    JsonNode j;
    try {
      j = JSON.readTree(r.body());
    } catch (IOException | RuntimeException e) {
      return;
    }
    if (j == null) {
      return;
    }
    String method = req.nsid().substring(World.NS.length());
    Convo c = req.convoId() == null ? null : world.convo(req.convoId());
    if (method.equals("createConvo") && j.hasNonNull("id") && world.convos.size() < 400) {
      String id = j.get("id").asText();
      if (world.convo(id) == null && id.length() % 2 == 0) {
        world.convos.add(new Convo(HexFormat.of().parseHex(id), req.caller()));
      }
      return;
    }
    if (c != null) {
      for (String f : List.of("newEpoch", "epoch", "currentEpoch")) {
        if (j.path(f).isIntegralNumber()) {
          c.epoch.accumulateAndGet(j.get(f).asLong(), Math::max);
        }
      }
      if (j.path("seq").isIntegralNumber()) {
        c.latestSeq.accumulateAndGet(j.get("seq").asLong(), Math::max);
      }
      for (JsonNode w : j.path("welcomeRecipients")) {
        for (int u = 0; u < world.users.size(); u++) {
          if (world.users.get(u).did().equals(w.path("did").asText())) {
            c.members.add(u);
          }
        }
      }
    }
    if (method.equals("sendMessage") && j.hasNonNull("messageId") && j.path("seq").isIntegralNumber()
        && req.convoId() != null && !req.mutation().startsWith("text:duplicate")) {
      acks.add(new String[] {req.convoId(), j.get("seq").asText(), j.get("messageId").asText()});
    }
    if (method.equals("getKeyPackages")) {
      long now = System.currentTimeMillis();
      for (JsonNode k : j.path("keyPackages")) {
        // Last-resort KeyPackages are shared; asking for one's own DID is a view that reserves nothing
        // (docs/keypackages.md): neither is a handout.
        if (k.path("lastResort").asBoolean(false) || k.path("did").asText().equals(world.users.get(req.caller()).did())) {
          continue;
        }
        String ref = k.path("keyPackageRef").asText();
        long[] prev = handouts.putIfAbsent(ref, new long[] {req.caller(), now});
        if (prev != null && prev[0] != req.caller() && now - prev[1] < LEASE_MS - 60_000) {
          violations.add("KeyPackage " + ref + " handed to user " + prev[0] + " and to user " + req.caller()
              + " within its lease");
        }
        try {
          world.claimed(req.caller(), Base64.getUrlDecoder().decode(k.path("keyPackage").asText()));
        } catch (IllegalArgumentException e) {
          violations.add("getKeyPackages returned a keyPackage that is not base64url: " + ref);
        }
      }
    }
  }

  private void sample(String kind, Request req, String what) {
    int n = samples.incrementAndGet();
    if (n <= 100) {
      try {
        Files.write(o.out().resolve(o.backend() + "-" + kind + "-" + n + ".http"), req.bytes());
        Files.writeString(o.out().resolve(o.backend() + "-" + kind + "-" + n + ".txt"),
            req.nsid() + " " + req.mutation() + "\n" + what + "\n");
      } catch (IOException e) {
        // best effort
      }
      progress("%s on %s (%s): %s", kind, req.nsid(), req.mutation(), what.length() > 300 ? what.substring(0, 300) : what);
    }
  }

  // ---- the database afterwards ----

  private void checkDatabase(String url) throws SQLException {
    try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("""
          SELECT c.id, c.latest_seq, COUNT(m.seq), MIN(m.seq), MAX(m.seq)
          FROM convos c LEFT JOIN messages m ON m.convo_id = c.id GROUP BY c.id, c.latest_seq""")) {
        while (rs.next()) {
          long latest = rs.getLong(2);
          long count = rs.getLong(3);
          if (count != latest || (count > 0 && (rs.getLong(4) != 1 || rs.getLong(5) != latest))) {
            violations.add("conversation " + rs.getString(1) + ": latest_seq " + latest + " but " + count
                + " messages with seq " + rs.getLong(4) + ".." + rs.getLong(5));
          }
        }
      }
      try (ResultSet rs = s.executeQuery("""
          SELECT convo_id, epoch, COUNT(*) FROM messages WHERE content_type = 'commit'
          GROUP BY convo_id, epoch HAVING COUNT(*) > 1""")) {
        while (rs.next()) {
          violations.add("conversation " + rs.getString(1) + ": " + rs.getLong(3) + " commits in epoch " + rs.getLong(2));
        }
      }
      try (ResultSet rs = s.executeQuery("""
          SELECT w.key_package_ref, COUNT(DISTINCT w.convo_id) FROM welcomes w
          JOIN key_packages k ON k.ref = w.key_package_ref
          WHERE NOT k.last_resort GROUP BY w.key_package_ref HAVING COUNT(DISTINCT w.convo_id) > 1""")) {
        while (rs.next()) {
          violations.add("KeyPackage " + rs.getString(1) + " in the Welcomes of " + rs.getLong(2) + " conversations");
        }
      }
      // By message id: an idempotent replay (same caller and idempotencyKey) answers with the first call's
      // message, which may be in another conversation than the replayed request names.
      try (PreparedStatement p = c.prepareStatement("SELECT seq FROM messages WHERE id = ?")) {
        for (String[] a : acks) {
          p.setString(1, a[2]);
          try (ResultSet rs = p.executeQuery()) {
            if (!rs.next() || rs.getLong(1) != Long.parseLong(a[1])) {
              violations.add("acknowledged message " + a[2] + " (seq " + a[1] + " in " + a[0] + ") is not stored");
            }
          }
        }
      }
    }
  }

  private Result result(double seconds, boolean ready) {
    Map<String, Long> st = new TreeMap<>();
    statuses.forEach((k, v) -> st.put(k, v.sum()));
    Map<String, Map<String, Long>> bm = new TreeMap<>();
    byMethod.forEach((k, v) -> {
      Map<String, Long> m = new TreeMap<>();
      v.forEach((s, n) -> m.put(s, n.sum()));
      bm.put(k, m);
    });
    long total = 0;
    for (LongAdder b : latencyBuckets) {
      total += b.sum();
    }
    long seen = 0;
    long p99 = 0;
    for (int i = 0; i < latencyBuckets.length; i++) {
      seen += latencyBuckets[i].sum();
      if (seen >= total * 0.99) {
        p99 = (1L << i) / 1000; // upper bound of the bucket, in ms
        break;
      }
    }
    return new Result(o.backend(), sent.get(), seconds, o.seed(), st, s5xx.sum(), deadline.sum(), connErrors.sum(),
        maxLatency.get(), p99, List.copyOf(violations), acks.size(), bm, ready, o.out());
  }

  static void progress(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[fuzz] " + format + "%n", args);
  }

  static CipherSuite suite() {
    return World.SUITE;
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
