package dev.mlsds.benchmarks.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import dev.mlsds.server.storage.Database;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code benchmarks/run sendmessage}: sendMessage throughput with its ceilings, measured in one run, printed
 * as one JSON line on stdout (progress goes to stderr).
 *
 * <ol>
 *   <li><b>HTTP ceiling</b>: {@link HttpCeiling} (a bare Javalin endpoint) in its own JVM, under the same
 *   wrk script and connection count.</li>
 *   <li><b>Database ceiling</b>: on PostgreSQL, pgbench at the same concurrency running the statements of
 *   sendMessage's transaction (lock the conversation row, read it and the membership, next seq, insert a
 *   1 KiB row) on a migrated database of its own; on SQLite, a raw JDBC loop of the same transaction on
 *   one connection with the server's pragmas.</li>
 *   <li><b>sendMessage</b>: the real server ({@code dev.mlsds.server.Main serve}) in its own JVM, loaded by
 *   wrk (keep-alive, {@code senders} connections) with ES256 service tokens signed before the timed phase,
 *   one per request; a warm-up phase first. Server CPU is read from {@code /proc/<pid>/stat} around the
 *   timed phase, wrk's own CPU apart.</li>
 * </ol>
 *
 * <p>Bounded: every phase has a duration, every child process is ended at exit, and only 127.0.0.1 is a
 * target.
 */
public final class SendMessageBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PG_ADMIN = "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres";
  private static final String NSID = "blue.catbird.mls.sendMessage";
  private static final String AUD = "did:web:localhost";
  /** Conversation ids are 8-byte group ids whose hex is all decimal digits, so pgbench can compute them. */
  private static final long CONVO_BASE = 1_000_000_000_000_000L;
  private static final int MESSAGE_BYTES = 1024;

  private final Options o;
  /** PostgreSQL's CPU per transaction and the machine's busy share in the (NOTIFY-less) pgbench run. */
  private Double pgbenchDbCpuMsPerTxn;
  private Double pgbenchMachineBusyPct;
  private final Path work;
  private final List<Process> children = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  record Options(String backend, int senders, boolean oneConvo, int seconds, int warmup, int maxRate,
      int threads, String serverJvmOpts, String jfr, boolean skipCeilings, String jar, int rate,
      List<Integer> poolSizes) {
    int convos() {
      return oneConvo ? 1 : senders;
    }

    /** Tokens are signed for this many requests per second: the closed loop's cap, or the open loop's rate. */
    int tokenRate(String phase) {
      return rate > 0 && phase.equals("measure") ? rate + rate / 20 + 1 : maxRate;
    }
  }

  /**
   * What one wrk (closed-loop) or {@link OpenLoopLoad} run reported, plus the CPU the target and the
   * generator used in it. Open loop: latencies count from each request's scheduled time; {@code dropped}
   * requests could not even be queued (the server fell more than 2 s behind the rate).
   */
  record WrkResult(long requests, long errors, double seconds, double p50Ms, double p90Ms, double p99Ms,
      double maxMs, double targetCpuMs, double clientCpuMs, long dropped, CpuMeter.Delta cpu) {
    double rps() {
      return (requests - errors) / seconds;
    }
  }

  SendMessageBench(Options o) throws IOException {
    this.o = o;
    this.work = Files.createTempDirectory("mlsds-bench");
  }

  public static void main(String[] args) throws Exception {
    Options o = parse(args);
    SendMessageBench b = new SendMessageBench(o);
    Runtime.getRuntime().addShutdownHook(new Thread(b::killChildren));
    try {
      String line = b.run();
      System.out.println(line);
      b.deleteWork();
    } finally {
      b.killChildren();
    }
  }

  static Options parse(String[] args) {
    Map<String, String> m = new LinkedHashMap<>(Map.of("--backend", "sqlite", "--senders", "64", "--convos", "many",
        "--seconds", "15", "--warmup", "5", "--max-rate", "4000", "--threads", "2", "--server-jvm-opts", "",
        "--jfr", "", "--skip-ceilings", "false"));
    m.put("--rate", "0");
    m.put("--pool-sizes", "");
    m.put("--jar", "benchmarks/target/benchmarks.jar");
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("sendmessage")) {
        continue;
      }
      if (a.equals("--skip-ceilings")) {
        m.put(a, "true");
        continue;
      }
      if (!m.containsKey(a) || i + 1 >= args.length) {
        throw new IllegalArgumentException("usage: sendmessage --backend postgres|sqlite --senders N --convos one|many"
            + " --seconds S [--warmup S] [--max-rate R] [--rate R] [--pool-sizes 8,16,32] [--threads T]"
            + " [--server-jvm-opts '...'] [--jfr FILE] [--skip-ceilings]; unknown or incomplete: " + a);
      }
      m.put(a, args[++i]);
    }
    String backend = m.get("--backend");
    if (!backend.equals("sqlite") && !backend.equals("postgres")) {
      throw new IllegalArgumentException("--backend must be postgres or sqlite");
    }
    int senders = Integer.parseInt(m.get("--senders"));
    int seconds = Integer.parseInt(m.get("--seconds"));
    if (senders < 1 || senders > 1024 || seconds < 1 || seconds > 120) {
      throw new IllegalArgumentException("--senders 1..1024, --seconds 1..120");
    }
    return new Options(backend, senders, m.get("--convos").equals("one"), seconds, Integer.parseInt(m.get("--warmup")),
        Integer.parseInt(m.get("--max-rate")), Math.min(senders, Integer.parseInt(m.get("--threads"))),
        m.get("--server-jvm-opts"), m.get("--jfr"), Boolean.parseBoolean(m.get("--skip-ceilings")), m.get("--jar"),
        Integer.parseInt(m.get("--rate")), m.get("--pool-sizes").isBlank() ? List.of()
            : Arrays.stream(m.get("--pool-sizes").split(",")).map(String::trim).map(Integer::parseInt).toList());
  }

  String run() throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("backend", o.backend());
    out.put("senders", o.senders());
    out.put("convos", o.oneConvo() ? "one" : "many");
    out.put("seconds", o.seconds());
    List<DevIdentity> users = new ArrayList<>();
    for (int c = 0; c < o.convos(); c++) {
      users.add(DevIdentity.generate(KeyType.P256));
    }
    writeBodies();
    Path lua = work.resolve("sendmessage.lua");
    try (InputStream in = SendMessageBench.class.getResourceAsStream("sendmessage.lua")) {
      Files.copy(in, lua);
    }

    WrkResult ceiling = null;
    Double dbTps = null;
    Double inTxnNotifyTps = null;
    if (!o.skipCeilings()) {
      ceiling = httpCeiling(lua);
      dbTps = o.backend().equals("postgres") ? pgbench(users, false) : jdbcLoop(users);
      if (o.backend().equals("postgres")) {
        // The same transaction with a NOTIFY inside it, as the server did before migration V14: what that costs.
        inTxnNotifyTps = pgbench(users, true);
      }
    }

    // One server run per pool size (0: the server's default), each on a fresh database.
    List<Integer> pools = o.poolSizes().isEmpty() ? List.of(0) : o.poolSizes();
    List<Map<String, Object>> sweep = new ArrayList<>();
    WrkResult r = null;
    int bestPool = 0;
    for (int pool : pools) {
      String dbName = null;
      String url;
      if (o.backend().equals("postgres")) {
        dbName = createPgDatabase("srv");
        url = "jdbc:postgresql://127.0.0.1:5432/" + dbName + "?user=postgres";
      } else {
        url = "jdbc:sqlite:" + work.resolve("server-" + pool + "/mlsds.db");
      }
      WrkResult one;
      try {
        one = measureServer(url, users, lua, pool);
      } finally {
        if (dbName != null) {
          dropPgDatabase(dbName);
        }
      }
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("poolSize", pool == 0 ? (o.backend().equals("postgres") ? 16 : 8) : pool);
      e.put("reqPerSec", round(one.rps()));
      e.put("p50Ms", round(one.p50Ms()));
      e.put("p99Ms", round(one.p99Ms()));
      e.put("errors", one.errors());
      e.put("serverCpuMsPerReq", round(one.targetCpuMs() / Math.max(1, one.requests())));
      sweep.add(e);
      if (r == null || one.rps() > r.rps()) {
        r = one;
        bestPool = (Integer) e.get("poolSize");
      }
    }
    out.put("mode", o.rate() > 0 ? "open-loop" : "closed-loop");
    out.put("rate", o.rate() > 0 ? o.rate() : null);
    out.put("poolSize", bestPool);
    out.put("reqPerSec", round(r.rps()));
    out.put("p50Ms", round(r.p50Ms()));
    out.put("p90Ms", round(r.p90Ms()));
    out.put("p99Ms", round(r.p99Ms()));
    out.put("maxMs", round(r.maxMs()));
    out.put("requests", r.requests());
    out.put("errors", r.errors());
    out.put("dropped", o.rate() > 0 ? r.dropped() : null);
    out.put("pgbenchTps", o.backend().equals("postgres") ? round(dbTps) : null);
    out.put("pgbenchInTxnNotifyTps", round(inTxnNotifyTps));
    out.put("jdbcLoopTps", o.backend().equals("sqlite") ? round(dbTps) : null);
    out.put("httpCeilingRps", ceiling == null ? null : round(ceiling.rps()));
    out.put("ratioToPgbench", dbTps == null ? null : round(r.rps() / dbTps));
    out.put("ratioToHttpCeiling", ceiling == null ? null : round(r.rps() / ceiling.rps()));
    out.put("serverCpuMsPerReq", round(r.targetCpuMs() / Math.max(1, r.requests())));
    out.put("serverCpuPct", round(100 * r.targetCpuMs() / (r.seconds() * 1000)));
    out.put("serverSysCpuMsPerReq", round(r.cpu().targetSysMs() / Math.max(1, r.requests())));
    out.put("dbCpuMsPerReq", o.backend().equals("postgres") ? round(r.cpu().dbMs() / Math.max(1, r.requests())) : null);
    out.put("pgbenchDbCpuMsPerTxn", round(pgbenchDbCpuMsPerTxn));
    out.put("machineBusyPct", round(r.cpu().machineBusyPct()));
    out.put("pgbenchMachineBusyPct", round(pgbenchMachineBusyPct));
    out.put("clientCpuMsPerReq", round(r.clientCpuMs() / Math.max(1, r.requests())));
    out.put("httpCeilingCpuMsPerReq", ceiling == null ? null
        : round(ceiling.targetCpuMs() / Math.max(1, ceiling.requests())));
    out.put("loadAvg1m", loadAverage());
    if (sweep.size() > 1) {
      out.put("poolSweep", sweep);
    }
    return JSON.writeValueAsString(out);
  }

  // ---- HTTP ceiling ----

  WrkResult httpCeiling(Path lua) throws Exception {
    int port = freePort();
    Process p = spawn(List.of(java(), "-cp", o.jar(), HttpCeiling.class.getName(), String.valueOf(port)),
        Map.of(), "http-ceiling");
    awaitReady(port, p);
    // The endpoint ignores tokens: unsigned stand-ins of the same length do.
    String fake = "x".repeat(DevIdentity.generate(KeyType.P256).token(AUD, NSID).length());
    for (String phase : List.of("warmup", "measure")) {
      int perThread = tokensPerThread("warmup", phase.equals("warmup") ? o.warmup() : o.seconds());
      for (int t = 0; t < o.threads(); t++) {
        try (Writer w = Files.newBufferedWriter(work.resolve("reqs-" + phase + "-" + t + ".txt"))) {
          for (int k = 0; k < perThread; k++) {
            w.write(fake + "\t" + convoFor(t, k) + "\n");
          }
        }
      }
    }
    progress("HTTP ceiling: bare Javalin endpoint, %d connections", o.senders());
    wrk(lua, port, "warmup", o.warmup(), p.pid());
    WrkResult r = wrk(lua, port, "measure", o.seconds(), p.pid());
    progress("HTTP ceiling: %.0f req/s, p50 %.2f ms, p99 %.2f ms", r.rps(), r.p50Ms(), r.p99Ms());
    stop(p);
    return r;
  }

  // ---- Database ceilings ----

  /**
   * pgbench with sendMessage's statements at the same concurrency; returns its tps. {@code notifyInTxn}: with a
   * {@code pg_notify} inside the transaction, as the server's realtime triggers did before migration V14 (the
   * server now sends its wakes after commit, coalesced, from another connection).
   */
  double pgbench(List<DevIdentity> users, boolean notifyInTxn) throws Exception {
    String db = createPgDatabase("pgb");
    try {
      String url = "jdbc:postgresql://127.0.0.1:5432/" + db + "?user=postgres";
      try (Database d = Database.open(url, null)) {
        d.migrate();
      }
      try (Connection c = DriverManager.getConnection(url)) {
        insertConvos(c, users);
      }
      String data = HexFormat.of().formatHex(SendMessageLoad.privateMessage(groupId(0), MESSAGE_BYTES));
      // The statements of the server's sendMessage transaction: the conversation row lock, the token's jti
      // record, the membership, the sender's quota, the next seq, the message. (The server claims the jti
      // first; pgbench 15 fails to prepare a script whose \\gset query follows another statement, and the order
      // of these two unrelated rows does not change the work.)
      String script = """
          \\set cid %d + :client_id %% %d
          SELECT creator_did AS did, epoch FROM convos WHERE id = :cid FOR UPDATE \\gset
          INSERT INTO auth_jti (issuer, jti, keep_until) VALUES (:did, md5(random()::text), 9000000000000) ON CONFLICT (issuer, jti) DO UPDATE SET keep_until = excluded.keep_until WHERE auth_jti.keep_until < 1;
          SELECT convo_id, did, role, active, joined_at, joined_seq, left_at FROM members WHERE convo_id = :cid AND did = :did;
          INSERT INTO storage_usage (did, bytes, messages) VALUES (:did, 1024, 1) ON CONFLICT (did) DO UPDATE SET bytes = storage_usage.bytes + 1024, messages = storage_usage.messages + 1 RETURNING bytes, messages;
          UPDATE convos SET latest_seq = latest_seq + 1, last_message_at = 1 WHERE id = :cid RETURNING latest_seq AS seq \\gset
          INSERT INTO messages (convo_id, seq, id, sender_did, epoch, content_type, data, msg_id, created_at) VALUES (:cid, :seq, md5(random()::text), :did, :epoch, 'application', decode(:data, 'hex'), NULL, 1);
          """.formatted(CONVO_BASE, o.convos())
          + (notifyInTxn ? "SELECT pg_notify('mlsds_realtime', '-|c|' || :cid);\n" : "");
      Path f = work.resolve("sendmessage.pgbench");
      Files.writeString(f, "BEGIN;\n" + script + "COMMIT;\n");
      progress("pgbench: sendMessage's transaction, %d clients%s", o.senders(), notifyInTxn ? ", with NOTIFY inside" : "");
      List<String> cmd = List.of("pgbench", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-n", "-M", "prepared",
          "-c", String.valueOf(o.senders()), "-j", String.valueOf(o.threads()), "-T", String.valueOf(o.seconds()),
          "-D", "data=" + data, "-f", f.toString(), db);
      CpuMeter m0 = CpuMeter.read(0);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new IllegalStateException("pgbench failed:\n" + text);
      }
      CpuMeter.Delta cpu = CpuMeter.read(0).since(m0);
      Matcher done = Pattern.compile("number of transactions actually processed: (\\d+)").matcher(text);
      if (!notifyInTxn && done.find()) {
        pgbenchDbCpuMsPerTxn = cpu.dbMs() / Math.max(1, Long.parseLong(done.group(1)));
        pgbenchMachineBusyPct = cpu.machineBusyPct();
      }
      Matcher m = Pattern.compile("tps = ([0-9.]+) \\(without initial connection time\\)").matcher(text);
      Matcher lat = Pattern.compile("latency average = ([0-9.]+) ms").matcher(text);
      if (!m.find()) {
        throw new IllegalStateException("no tps in pgbench output:\n" + text);
      }
      double tps = Double.parseDouble(m.group(1));
      progress("pgbench: %.0f tps, latency average %s ms", tps, lat.find() ? lat.group(1) : "?");
      return tps;
    } finally {
      dropPgDatabase(db);
    }
  }

  /** SQLite: the same transaction in a JDBC loop on one connection with the server's pragmas. */
  double jdbcLoop(List<DevIdentity> users) throws Exception {
    Path file = work.resolve("ceiling/mlsds.db");
    Files.createDirectories(file.getParent());
    String url = "jdbc:sqlite:" + file;
    try (Database d = Database.open(url, null)) {
      d.migrate();
    }
    Properties props = new Properties();
    props.setProperty("journal_mode", "WAL");
    props.setProperty("synchronous", "FULL"); // the server's default (MLSDS_SQLITE_SYNCHRONOUS)
    props.setProperty("busy_timeout", "10000");
    props.setProperty("foreign_keys", "true");
    props.setProperty("transaction_mode", "IMMEDIATE");
    byte[] data = SendMessageLoad.privateMessage(groupId(0), MESSAGE_BYTES);
    SecureRandom random = new SecureRandom();
    progress("JDBC loop: sendMessage's transaction on SQLite, one connection");
    try (Connection c = DriverManager.getConnection(url, props)) {
      insertConvos(c, users);
      c.setAutoCommit(false);
      PreparedStatement lock = c.prepareStatement("SELECT creator_did, epoch FROM convos WHERE id = ?");
      PreparedStatement jti = c.prepareStatement("INSERT INTO auth_jti (issuer, jti, keep_until) VALUES (?, ?, "
          + "9000000000000) ON CONFLICT (issuer, jti) DO UPDATE SET keep_until = excluded.keep_until "
          + "WHERE auth_jti.keep_until < 1");
      PreparedStatement member = c.prepareStatement("SELECT convo_id, did, role, active, joined_at, joined_seq, "
          + "left_at FROM members WHERE convo_id = ? AND did = ?");
      PreparedStatement quota = c.prepareStatement("INSERT INTO storage_usage (did, bytes, messages) VALUES (?, 1024, 1)"
          + " ON CONFLICT (did) DO UPDATE SET bytes = storage_usage.bytes + 1024,"
          + " messages = storage_usage.messages + 1 RETURNING bytes, messages");
      PreparedStatement next = c.prepareStatement(
          "UPDATE convos SET latest_seq = latest_seq + 1, last_message_at = ? WHERE id = ? RETURNING latest_seq");
      PreparedStatement insert = c.prepareStatement("""
          INSERT INTO messages (convo_id, seq, id, sender_did, epoch, content_type, data, msg_id, created_at)
          VALUES (?, ?, ?, ?, ?, 'application', ?, NULL, ?)""");
      long deadline = System.nanoTime() + Duration.ofSeconds(o.warmup() + o.seconds()).toNanos();
      long measureFrom = System.nanoTime() + Duration.ofSeconds(o.warmup()).toNanos();
      long n = 0;
      long started = 0;
      byte[] id = new byte[16];
      for (long i = 0; ; i++) {
        long now = System.nanoTime();
        if (now >= deadline) {
          break;
        }
        if (started == 0 && now >= measureFrom) {
          started = now;
          n = 0;
        }
        String cid = convoId((int) (i % o.convos()));
        String did;
        long epoch;
        lock.setString(1, cid);
        try (ResultSet rs = lock.executeQuery()) {
          rs.next();
          did = rs.getString(1);
          epoch = rs.getLong(2);
        }
        random.nextBytes(id);
        jti.setString(1, did);
        jti.setString(2, HexFormat.of().formatHex(id));
        jti.executeUpdate();
        member.setString(1, cid);
        member.setString(2, did);
        try (ResultSet rs = member.executeQuery()) {
          rs.next();
        }
        quota.setString(1, did);
        try (ResultSet rs = quota.executeQuery()) {
          rs.next();
        }
        long millis = System.currentTimeMillis();
        next.setLong(1, millis);
        next.setString(2, cid);
        long s;
        try (ResultSet rs = next.executeQuery()) {
          rs.next();
          s = rs.getLong(1);
        }
        random.nextBytes(id);
        insert.setString(1, cid);
        insert.setLong(2, s);
        insert.setString(3, HexFormat.of().formatHex(id));
        insert.setString(4, did);
        insert.setLong(5, epoch);
        insert.setBytes(6, data);
        insert.setLong(7, millis);
        insert.executeUpdate();
        c.commit();
        n++;
      }
      double tps = n / ((System.nanoTime() - started) / 1e9);
      progress("JDBC loop: %.0f tps", tps);
      return tps;
    }
  }

  void insertConvos(Connection c, List<DevIdentity> users) throws SQLException {
    try (PreparedStatement convo = c.prepareStatement("""
        INSERT INTO convos (id, creator_did, cipher_suite, epoch, latest_seq, created_at) VALUES (?, ?, 1, 0, 0, 0)""");
        PreparedStatement member = c.prepareStatement("""
        INSERT INTO members (convo_id, did, role, active, joined_at, joined_seq) VALUES (?, ?, 'admin', TRUE, 0, 0)""")) {
      for (int i = 0; i < o.convos(); i++) {
        convo.setString(1, convoId(i));
        convo.setString(2, users.get(i).did().value());
        convo.executeUpdate();
        member.setString(1, convoId(i));
        member.setString(2, users.get(i).did().value());
        member.executeUpdate();
      }
    }
  }

  // ---- The server ----

  WrkResult measureServer(String url, List<DevIdentity> users, Path lua, int poolSize) throws Exception {
    int port = freePort();
    List<String> cmd = new ArrayList<>(List.of(java()));
    if (!o.serverJvmOpts().isBlank()) {
      cmd.addAll(Arrays.asList(o.serverJvmOpts().trim().split("\\s+")));
    }
    if (!o.jfr().isBlank()) {
      cmd.add("-XX:StartFlightRecording=filename=" + Path.of(o.jfr()).toAbsolutePath() + ",settings=profile");
    }
    cmd.addAll(List.of("-cp", o.jar(), "dev.mlsds.server.Main", "serve"));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("MLSDS_PROFILE", "dev");
    env.put("MLSDS_BIND", "127.0.0.1");
    env.put("MLSDS_PORT", String.valueOf(port));
    env.put("MLSDS_DATABASE_URL", url);
    env.put("MLSDS_SERVICE_DID", AUD);
    env.put("MLSDS_ALLOW_DID_KEY", "true");
    env.put("MLSDS_RATE_LIMIT_PER_MINUTE", String.valueOf(Integer.MAX_VALUE / 2));
    // "one conversation" sends as a single caller over many connections: lift the in-flight cap too.
    env.put("MLSDS_IN_FLIGHT_PER_CALLER", String.valueOf(Integer.MAX_VALUE / 2));
    env.put("MLSDS_DATABASE_POOL_SIZE", String.valueOf(poolSize));
    // Each run its own data folder (SQLite), so a pool sweep starts every run from an empty database.
    env.put("MLSDS_DATA_DIR", work.resolve("server-" + poolSize).toString());
    Process p = spawn(cmd, env, "server");
    awaitReady(port, p);
    String base = "http://127.0.0.1:" + port + "/xrpc/blue.catbird.mls.";
    for (int c = 0; c < o.convos(); c++) {
      post(base + "createConvo", users.get(c).token(AUD, "blue.catbird.mls.createConvo"),
          "{\"groupId\":\"" + convoId(c) + "\",\"cipherSuite\":\""
              + CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.name() + "\"}");
    }
    progress("signing tokens for %d s at up to %d req/s...", o.warmup() + o.seconds(), o.tokenRate("warmup"));
    long signStart = System.nanoTime();
    signTokens(users, "warmup", tokensPerThread("warmup", o.warmup()));
    signTokens(users, "measure", tokensPerThread("measure", o.seconds()));
    progress("signed in %.1f s", (System.nanoTime() - signStart) / 1e9);
    progress("sendMessage: %s, %d connections, %s, pool %s, %s", o.backend(), o.senders(),
        o.oneConvo() ? "one conversation" : o.convos() + " conversations", poolSize == 0 ? "default" : poolSize,
        o.rate() > 0 ? "open loop at " + o.rate() + " req/s" : "closed loop");
    WrkResult warm = wrk(lua, port, "warmup", o.warmup(), p.pid());
    progress("warm-up: %.0f req/s, %d errors", warm.rps(), warm.errors());
    WrkResult r = o.rate() > 0 ? openLoop(port, "measure", o.seconds(), p.pid()) : wrk(lua, port, "measure", o.seconds(), p.pid());
    progress("sendMessage: %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d errors, server CPU %.2f ms/req",
        r.rps(), r.p50Ms(), r.p99Ms(), r.errors(), r.targetCpuMs() / Math.max(1, r.requests()));
    if (r.errors() > 0) {
      progress("WARNING: %d requests failed (out of tokens? raise --max-rate)", r.errors());
    }
    stop(p);
    return r;
  }

  /** Writes reqs-<phase>-<thread>.txt: fresh tokens, each thread cycling over its conversations. */
  void signTokens(List<DevIdentity> users, String phase, int perThread) throws Exception {
    Instant now = Instant.now();
    try (ExecutorService pool = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors())) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < o.threads(); t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          try (Writer w = Files.newBufferedWriter(work.resolve("reqs-" + phase + "-" + thread + ".txt"))) {
            for (int k = 0; k < perThread; k++) {
              int c = convoFor(thread, k);
              DevIdentity who = users.get(c);
              Map<String, Object> claims = who.claims(AUD, NSID, now);
              claims.put("exp", now.getEpochSecond() + 300);
              w.write(who.sign(claims) + "\t" + c + "\n");
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    }
  }

  /** The conversation of a thread's k-th request: thread t owns conversations t, t + T, t + 2T, … */
  int convoFor(int thread, int k) {
    if (o.oneConvo()) {
      return 0;
    }
    int owned = (o.convos() - thread + o.threads() - 1) / o.threads();
    return thread + o.threads() * (k % owned);
  }

  int tokensPerThread(String phase, int seconds) {
    return (int) Math.min(2_000_000L, (long) o.tokenRate(phase) * seconds / o.threads() + 1000);
  }

  void writeBodies() throws IOException {
    try (Writer w = Files.newBufferedWriter(work.resolve("bodies.txt"))) {
      for (int c = 0; c < o.convos(); c++) {
        byte[] ct = SendMessageLoad.privateMessage(groupId(c), MESSAGE_BYTES);
        w.write("{\"convoId\":\"" + convoId(c) + "\",\"ciphertext\":{\"$bytes\":\""
            + Base64.getEncoder().withoutPadding().encodeToString(ct) + "\"}}\n");
      }
    }
  }

  static String convoId(int c) {
    return Long.toString(CONVO_BASE + c);
  }

  static byte[] groupId(int c) {
    return HexFormat.of().parseHex(convoId(c));
  }

  // ---- wrk ----

  /** One wrk run of {@code seconds} against 127.0.0.1:port, with the target's CPU time over it. */
  WrkResult wrk(Path lua, int port, String phase, int seconds, long targetPid) throws Exception {
    // `times` prints the shell's children's CPU after wrk exits: wrk's own CPU, apart from the target's.
    String cmd = "wrk -t " + o.threads() + " -c " + o.senders() + " -d " + seconds + "s --timeout 30s -s " + lua
        + " http://127.0.0.1:" + port + " && times";
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", cmd).redirectErrorStream(true);
    pb.environment().put("BENCH_DIR", work.toString());
    pb.environment().put("BENCH_PATH", "/xrpc/" + NSID);
    pb.environment().put("BENCH_PHASE", phase);
    CpuMeter m0 = CpuMeter.read(targetPid);
    long t0 = System.nanoTime();
    Process p = pb.start();
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    CpuMeter.Delta cpu = CpuMeter.read(targetPid).since(m0);
    double wall = (System.nanoTime() - t0) / 1e9;
    if (p.waitFor() != 0) {
      throw new IllegalStateException("wrk failed:\n" + text);
    }
    JsonNode j = null;
    double clientCpuMs = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("{\"requests\"")) {
        j = JSON.readTree(line);
      }
    }
    String[] lines = text.strip().split("\n");
    clientCpuMs = timesLine(lines[lines.length - 1]);
    if (j == null) {
      throw new IllegalStateException("no result line from wrk:\n" + text);
    }
    long errors = j.get("errorsStatus").asLong() + j.get("errorsConnect").asLong() + j.get("errorsRead").asLong()
        + j.get("errorsWrite").asLong() + j.get("errorsTimeout").asLong();
    double secs = j.get("durationUs").asLong() / 1e6;
    return new WrkResult(j.get("requests").asLong(), errors, secs > 0 ? secs : wall, j.get("p50Us").asLong() / 1e3,
        j.get("p90Us").asLong() / 1e3, j.get("p99Us").asLong() / 1e3, j.get("maxUs").asLong() / 1e3,
        cpu.targetMs(), clientCpuMs, 0, cpu);
  }

  /** One {@link OpenLoopLoad} run in its own JVM at {@code --rate}, with the target's CPU time over it. */
  WrkResult openLoop(int port, String phase, int seconds, long targetPid) throws Exception {
    List<String> cmd = List.of(java(), "-XX:+UseSerialGC", "-Xmx512m", "-cp", o.jar(), OpenLoopLoad.class.getName(),
        work.toString(), String.valueOf(port), "/xrpc/" + NSID, phase, String.valueOf(o.threads()),
        String.valueOf(o.senders()), String.valueOf(o.rate()), String.valueOf(seconds));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    children.add(p);
    // The generator reads its tokens before the schedule starts: count the target's CPU from its first line.
    CpuMeter m0 = CpuMeter.read(targetPid);
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    CpuMeter.Delta cpu = CpuMeter.read(targetPid).since(m0);
    children.remove(p);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("open-loop generator failed:\n" + text);
    }
    JsonNode j = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("{\"requests\"")) {
        j = JSON.readTree(line);
      }
    }
    if (j == null) {
      throw new IllegalStateException("no result line from the open-loop generator:\n" + text);
    }
    long errors = j.get("errors").asLong() + j.get("non2xx").asLong() + j.get("dropped").asLong();
    // Throughput from the first scheduled request to the last answer: behind the rate, the drain counts too.
    double secs = Math.max((double) j.get("scheduled").asLong() / j.get("rate").asDouble(),
        j.get("durationUs").asLong() / 1e6);
    return new WrkResult(j.get("requests").asLong() + j.get("dropped").asLong(), errors, secs,
        j.get("p50Us").asLong() / 1e3, j.get("p90Us").asLong() / 1e3, j.get("p99Us").asLong() / 1e3,
        j.get("maxUs").asLong() / 1e3, cpu.targetMs(), j.get("clientCpuMs").asDouble(),
        j.get("dropped").asLong(), cpu);
  }

  /** The 1-minute load average, to note how busy the shared machine was. */
  static Double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Parses bash's {@code times} children line, e.g. {@code 0m1.230s 0m0.450s}, into ms. */
  static double timesLine(String line) {
    Matcher m = Pattern.compile("(\\d+)m([0-9.]+)s\\s+(\\d+)m([0-9.]+)s").matcher(line);
    if (!m.find()) {
      return Double.NaN;
    }
    return (Integer.parseInt(m.group(1)) * 60 + Double.parseDouble(m.group(2)) + Integer.parseInt(m.group(3)) * 60
        + Double.parseDouble(m.group(4))) * 1000;
  }

  /** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/pid/stat). */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  // ---- processes and plumbing ----

  Process spawn(List<String> cmd, Map<String, String> env, String name) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(work.resolve(name + ".log").toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    children.add(p);
    return p;
  }

  void awaitReady(int port, Process p) throws Exception {
    ServerReady.await(http, port, p, work);
  }


  void post(String url, String token, String body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IllegalStateException(url + " answered " + r.statusCode() + ": " + r.body());
    }
  }

  void stop(Process p) throws InterruptedException {
    p.destroy();
    if (!p.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
    }
    children.remove(p);
  }

  /** Removes the scratch folder (tokens, databases); kept when a run fails, for its logs. */
  void deleteWork() throws IOException {
    try (var files = Files.walk(work)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  void killChildren() {
    for (Process p : List.copyOf(children)) {
      p.destroyForcibly();
    }
  }

  static String createPgDatabase(String role) throws SQLException {
    String name = "mlsds_bench_" + role + "_" + Long.toHexString(new SecureRandom().nextLong() & Long.MAX_VALUE);
    try (Connection c = DriverManager.getConnection(PG_ADMIN); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    return name;
  }

  static void dropPgDatabase(String name) throws SQLException {
    try (Connection c = DriverManager.getConnection(PG_ADMIN); Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  static Double round(Double v) {
    return v == null ? null : Math.round(v * 100) / 100.0;
  }

  static void progress(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[bench] " + format + "%n", args);
  }
}
