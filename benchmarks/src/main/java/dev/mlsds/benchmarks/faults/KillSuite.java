package dev.mlsds.benchmarks.faults;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code benchmarks/faults kill}: crash safety under SIGKILL. Each run starts fresh conversations on one
 * database shared by every run, drives the node(s) with concurrent senders (application messages),
 * committers (key-update Commits racing for each epoch), adders (publish a joiner's KeyPackage, claim it,
 * addMembers with Commit + Welcome, the joiner fetches the Welcome) and claimers (getKeyPackages from a
 * pool), SIGKILLs a node at a random moment, restarts it, lets the load go on, and then checks the
 * database against the clients' records:
 *
 * <ul>
 *   <li>every acknowledged message, Commit and add present exactly once, at the acknowledged seq;</li>
 *   <li>seq gap-free and unique per conversation ({@code latest_seq} = row count);</li>
 *   <li>one Commit per epoch, as many Commits as the conversation's epoch;</li>
 *   <li>no KeyPackage handed out twice; every KeyPackage handed out stays out of {@code available};</li>
 *   <li>the Welcome of every acknowledged add stored and fetchable by its joiner;</li>
 *   <li>requests in flight at the kill, retried with the same idempotency key, return the committed result
 *       (or run once), and a sample of acknowledged requests replayed after the restart return
 *       byte-identical bodies; a request whose retry was refused left nothing behind.</li>
 * </ul>
 */
final class KillSuite {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

  record Options(String backend, int runs, int nodes, int convos, long seed, int maxViolations) {
    static Options from(Map<String, String> m) {
      String backend = m.getOrDefault("--backend", "sqlite");
      if (!backend.equals("sqlite") && !backend.equals("postgres")) {
        throw new IllegalArgumentException("--backend sqlite|postgres");
      }
      int nodes = Integer.parseInt(m.getOrDefault("--nodes", "1"));
      if (nodes < 1 || nodes > 2 || (nodes == 2 && backend.equals("sqlite"))) {
        throw new IllegalArgumentException("--nodes 1, or 2 on postgres");
      }
      int runs = Integer.parseInt(m.getOrDefault("--runs", "20"));
      int convos = Integer.parseInt(m.getOrDefault("--convos", "2"));
      if (runs < 1 || runs > 500 || convos < 1 || convos > 16) {
        throw new IllegalArgumentException("--runs 1..500, --convos 1..16");
      }
      return new Options(backend, runs, nodes, convos,
          Long.parseLong(m.getOrDefault("--seed", String.valueOf(System.nanoTime()))), 50);
    }
  }

  // ---- the clients' records ----

  enum Kind { MESSAGE, COMMIT, ADD, PUBLISH, CREATE }

  /** An acknowledged (200) procedure call, with what it sent and what it was told. */
  record Ack(Kind kind, String convo, DevIdentity who, String method, String body, String reply, String dataHash,
      long seq, String messageId, boolean inDoubt) {}

  /** A call that was in flight at a kill and whose retry with the same key got no 200. */
  record Refused(Kind kind, String convo, String dataHash, int status, String error) {}

  record AddAck(String convo, DevIdentity joiner, String ref, byte[] welcome) {}

  static final class Convo {
    final DevIdentity creator;
    final byte[] groupId;
    final String id;
    final AtomicLong epoch = new AtomicLong();

    Convo(DevIdentity creator, byte[] groupId) {
      this.creator = creator;
      this.groupId = groupId;
      this.id = HexFormat.of().formatHex(groupId);
    }

    void learn(long e) {
      epoch.accumulateAndGet(e, Math::max);
    }
  }

  private final Options o;
  private final String jar;
  private final Api api = new Api(Duration.ofSeconds(30));
  private final Random random;
  private final List<Node> nodes = new ArrayList<>();
  private String dbUrl;
  private String pgName;
  private Path work;

  // Records across runs.
  private final ConcurrentLinkedQueue<Ack> acks = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Refused> refused = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<AddAck> adds = new ConcurrentLinkedQueue<>();
  private final ConcurrentHashMap<String, String> claimedBy = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<String> claimedThisRun = new ConcurrentLinkedQueue<>();
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  private final List<Convo> allConvos = new ArrayList<>();
  private final ConcurrentHashMap<String, AtomicLong> answers = new ConcurrentHashMap<>();
  private final AtomicLong http5xx = new AtomicLong();
  private final AtomicLong http503 = new AtomicLong();
  private final AtomicLong http429 = new AtomicLong();
  private final AtomicLong hangs = new AtomicLong();
  private final AtomicLong inDoubt = new AtomicLong();
  private final AtomicLong refusedConnects = new AtomicLong();
  private final AtomicLong inDoubtReplayed = new AtomicLong();
  private final AtomicLong inDoubtConflict = new AtomicLong();
  private final AtomicLong claimsHandedOut = new AtomicLong();
  private final AtomicLong claimsTwice = new AtomicLong();
  private final AtomicLong welcomesFetched = new AtomicLong();
  private long lost;
  private long duplicated;
  private long seqGaps;
  private long commitEpochViolations;
  private long welcomesLost;
  private long claimsBackToAvailable;
  private long committedButRefused;
  private long replaysChecked;
  private long replaysMismatched;
  private final List<Long> restartMs = new ArrayList<>();
  private final List<Long> killAtMs = new ArrayList<>();
  private volatile long lastKillEpochMs;

  KillSuite(Options o, String jar) {
    this.o = o;
    this.jar = jar;
    this.random = new Random(o.seed());
  }

  Map<String, Object> run() throws Exception {
    long t0 = System.nanoTime();
    work = Files.createTempDirectory("mlsds-faults-kill");
    try {
      if (o.backend().equals("postgres")) {
        pgName = Faults.randomName("mlsds_faults_");
        dbUrl = Faults.createPgDatabase(Faults.pgAdmin(), pgName);
      } else {
        dbUrl = "jdbc:sqlite:" + work.resolve("mlsds.db");
      }
      for (int i = 0; i < o.nodes(); i++) {
        nodes.add(new Node("node" + i, jar, dbUrl, work));
      }
      Runtime.getRuntime().addShutdownHook(new Thread(() -> nodes.forEach(Node::killQuietly)));
      // A first start and graceful stop writes each node's class-data archive: restarts then take ~2 s.
      for (Node n : nodes) {
        n.start();
        n.stop();
      }
      for (Node n : nodes) {
        restartMs.add(n.start());
      }
      restartMs.clear();
      for (int run = 1; run <= o.runs(); run++) {
        oneRun(run);
        if (violations.size() >= o.maxViolations()) {
          Faults.progress("stopping early: %d violations", violations.size());
          break;
        }
      }
      verifyAll();
      Map<String, Object> out = figures((System.nanoTime() - t0) / 1e9);
      if (violations.isEmpty()) {
        for (Node n : nodes) {
          n.stop();
        }
        if (pgName == null) {
          Faults.deleteTree(work);
        }
      } else {
        Faults.progress("violations found; logs and database kept in %s", work);
      }
      return out;
    } finally {
      for (Node n : nodes) {
        n.kill();
      }
      if (pgName != null && violations.isEmpty()) {
        Faults.dropPgDatabase(Faults.pgAdmin(), pgName);
        Faults.deleteTree(work);
      }
    }
  }

  // ---- one run ----

  private volatile boolean stop;
  private int runNo;

  void oneRun(int run) throws Exception {
    runNo = run;
    stop = false;
    claimedThisRun.clear();
    int ackFrom = acks.size();
    int addFrom = adds.size();
    List<Convo> convos = new ArrayList<>();
    for (int c = 0; c < o.convos(); c++) {
      byte[] g = new byte[16];
      random.nextBytes(g);
      Convo convo = new Convo(DevIdentity.generate(KeyType.P256), g);
      Api.Reply r = call(0, Kind.CREATE, convo.id, convo.creator, "createConvo", body(Map.of("groupId", convo.id,
          "cipherSuite", SUITE.name())), null).reply();
      if (r.status() != 200) {
        throw new IllegalStateException("createConvo: " + r);
      }
      convos.add(convo);
    }
    allConvos.addAll(convos);
    List<DevIdentity> supply = new ArrayList<>();
    for (int u = 0; u < 3; u++) {
      DevIdentity s = DevIdentity.generate(KeyType.P256);
      List<Map<String, Object>> kps = new ArrayList<>();
      for (int d = 0; d < 2; d++) {
        SigningKey key = SigningKey.generate(SUITE);
        for (int k = 0; k < 15; k++) {
          kps.add(Map.of("keyPackage", bytes(keyPackage(s, key))));
        }
      }
      Api.Reply r = call(0, Kind.PUBLISH, null, s, "publishKeyPackages", body(Map.of("keyPackages", kps)), null)
          .reply();
      if (r.status() != 200) {
        throw new IllegalStateException("publishKeyPackages: " + r);
      }
      supply.add(s);
    }

    List<Thread> workers = new ArrayList<>();
    int w = 0;
    for (Convo c : convos) {
      for (int s = 0; s < 2; s++) {
        workers.add(worker("sender", w++, () -> sendOne(c, preferred(workers.size()))));
      }
      workers.add(worker("committer", w++, () -> commitOne(c, preferred(workers.size()))));
      workers.add(worker("adder", w++, () -> addOne(c, preferred(workers.size()))));
    }
    for (int k = 0; k < 2; k++) {
      DevIdentity claimer = DevIdentity.generate(KeyType.P256);
      workers.add(worker("claimer", w++, () -> claimOne(claimer, supply.get(random(supply.size())),
          preferred(workers.size()))));
    }
    // preferred() reads the list size at call time; capture a stable index per worker instead.
    for (Thread t : workers) {
      t.start();
    }
    long loadMs = 300 + random.nextInt(2200);
    Thread.sleep(loadMs);
    Node victim = nodes.get(random.nextInt(nodes.size()));
    lastKillEpochMs = System.currentTimeMillis();
    victim.kill();
    killAtMs.add(loadMs);
    Thread.sleep(random.nextInt(400));
    long ms = victim.start();
    restartMs.add(ms);
    Thread.sleep(800);
    stop = true;
    for (Thread t : workers) {
      t.join(Duration.ofSeconds(450));
      if (t.isAlive()) {
        violation("run %d: worker %s did not finish within 450 s (hang)", run, t.getName());
        hangs.incrementAndGet();
        t.interrupt();
      }
    }
    List<Ack> runAcks = new ArrayList<>(acks).subList(ackFrom, acks.size());
    List<AddAck> runAdds = new ArrayList<>(adds).subList(addFrom, adds.size());
    verifyRun(run, convos, runAcks, runAdds);
    Faults.progress("run %d/%d: killed %s after %d ms, ready again in %d ms; %d acks, %d adds, %d claims; "
        + "violations so far %d", run, o.runs(), victim.name, loadMs, ms, runAcks.size(), runAdds.size(),
        claimedThisRun.size(), violations.size());
  }

  private final ThreadLocal<Integer> workerIndex = ThreadLocal.withInitial(() -> 0);

  /** The node a worker talks to first: workers are spread over the nodes. */
  int preferred(int ignored) {
    return workerIndex.get() % nodes.size();
  }

  interface Step {
    void run() throws Exception;
  }

  Thread worker(String role, int index, Step step) {
    Thread t = new Thread(() -> {
      workerIndex.set(index);
      while (!stop) {
        try {
          step.run();
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) {
          violation("run %d: %s-%d failed: %s", runNo, role, index, e);
          return;
        }
      }
    }, role + "-" + index);
    t.setDaemon(true);
    return t;
  }

  synchronized int random(int bound) {
    return random.nextInt(bound);
  }

  // ---- the workload ----

  void sendOne(Convo c, int node) throws Exception {
    long epoch = c.epoch.get();
    byte[] data = privateMessage(c.groupId, epoch, 64 + random(200));
    String body = body(Map.of("convoId", c.id, "ciphertext", bytes(data)));
    Outcome out = call(node, Kind.MESSAGE, c.id, c.creator, "sendMessage", body, data);
    if (out.reply.status() == 409) {
      learnEpoch(c, out.reply);
    }
  }

  void commitOne(Convo c, int node) throws Exception {
    long epoch = c.epoch.get();
    byte[] data = TestMessages.commit(c.groupId, epoch, 0, List.of(), List.of(), List.of(),
        "key-update-" + UUID.randomUUID());
    String body = body(Map.of("convoId", c.id, "ciphertext", bytes(data)));
    Outcome out = call(node, Kind.COMMIT, c.id, c.creator, "sendMessage", body, data);
    if (out.reply.status() == 200) {
      c.learn(epoch + 1);
    } else if (out.reply.status() == 409) {
      learnEpoch(c, out.reply);
    }
    Thread.sleep(random(60)); // leaves the adder of this conversation a chance at an epoch
  }

  void addOne(Convo c, int node) throws Exception {
    DevIdentity joiner = DevIdentity.generate(KeyType.P256);
    byte[] kp = keyPackage(joiner, SigningKey.generate(SUITE));
    String ref = HexFormat.of().formatHex(KeyPackage.decode(kp).ref());
    Outcome pub = call(node, Kind.PUBLISH, null, joiner, "publishKeyPackages",
        body(Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp))))), null);
    if (pub.reply.status() != 200) {
      return;
    }
    String status = pub.reply.json().get("results").get(0).get("status").asText();
    if (!status.equals("published")) {
      violation("run %d: publishKeyPackages %s answered %s for a new KeyPackage (idempotent retry after a crash "
          + "must return the first result)", runNo, pub.inDoubt ? "retried" : "", status);
    }
    Api.Reply claim = getWithRetry(node, c.creator, "getKeyPackages", "dids", joiner.did().value());
    if (claim == null || claim.status() != 200) {
      return;
    }
    for (JsonNode k : claim.json().get("keyPackages")) {
      handedOut(k.get("keyPackageRef").asText(), c.creator.did().value());
    }
    while (!stop) {
      long epoch = c.epoch.get();
      byte[] commit = TestMessages.commit(c.groupId, epoch, 0, List.of(kp), List.of(), false);
      byte[] welcome = TestMessages.welcome(SUITE, List.of(KeyPackage.decode(kp).ref()));
      String body = body(Map.of("convoId", c.id, "didList", List.of(joiner.did().value()), "commit", bytes(commit),
          "welcome", bytes(welcome)));
      Outcome out = call(node, Kind.ADD, c.id, c.creator, "addMembers", body, commit);
      if (out.reply.status() == 200) {
        c.learn(epoch + 1);
        adds.add(new AddAck(c.id, joiner, ref, welcome));
        Api.Reply got = getWithRetry(node, joiner, "getWelcome", "convoId", c.id);
        if (got != null && got.status() == 200) {
          welcomesFetched.incrementAndGet();
          if (!Arrays.equals(Base64.getUrlDecoder().decode(got.json().get("welcome").asText()), welcome)) {
            violation("run %d: getWelcome returned other bytes than the acknowledged Welcome (convo %s)", runNo, c.id);
          }
        } else if (got != null) {
          violation("run %d: getWelcome after an acknowledged add answered %d %s", runNo, got.status(), got.body());
        }
        return;
      }
      if (out.reply.status() == 409 && out.reply.error().equals("StaleEpoch")) {
        learnEpoch(c, out.reply);
        continue;
      }
      return;
    }
  }

  void claimOne(DevIdentity claimer, DevIdentity target, int node) throws Exception {
    Api.Reply r = getWithRetry(node, claimer, "getKeyPackages", "dids", target.did().value());
    if (r != null && r.status() == 200) {
      for (JsonNode k : r.json().get("keyPackages")) {
        if (k.get("lastResort").asBoolean()) {
          violation("run %d: a last-resort KeyPackage was handed out though none was published", runNo);
        }
        handedOut(k.get("keyPackageRef").asText(), claimer.did().value());
      }
      if (r.json().get("keyPackages").isEmpty()) {
        Thread.sleep(20); // the pool of this target is used up
      }
    }
  }

  void handedOut(String ref, String to) {
    claimsHandedOut.incrementAndGet();
    claimedThisRun.add(ref);
    String before = claimedBy.putIfAbsent(ref, to);
    if (before != null) {
      claimsTwice.incrementAndGet();
      violation("run %d: KeyPackage %s handed out twice (to %s, then to %s)", runNo, ref, before, to);
    }
  }

  static void learnEpoch(Convo c, Api.Reply r) {
    JsonNode e = r.json().get("currentEpoch");
    if (e != null) {
      c.learn(e.asLong());
    }
  }

  // ---- calls with crash handling ----

  record Outcome(Api.Reply reply, boolean inDoubt) {}

  /**
   * A procedure call retried with the same body (so the same idempotency key) until it gets an answer:
   * connection failures (the node was killed) and 503 are retried, on the other node when there are two.
   * Records an {@link Ack} for a 200, a {@link Refused} for an in-doubt call that got no 200.
   */
  Outcome call(int node, Kind kind, String convo, DevIdentity who, String method, String body, byte[] data)
      throws Exception {
    Api.Reply r = exec(node, kind, convo, who, method, body, data);
    boolean doubt = lastInDoubt.get();
    String hash = data == null ? null : sha256(data);
    if (r.status() == 200) {
      long seq = -1;
      String messageId = null;
      JsonNode j = r.json();
      if (j.has("seq")) {
        seq = j.get("seq").asLong();
        messageId = j.get("messageId").asText();
      }
      acks.add(new Ack(kind, convo, who, method, body, r.body(), hash, seq, messageId, doubt));
      if (doubt && j.has("receivedAt")
          && Instant.parse(j.get("receivedAt").asText()).toEpochMilli() < lastKillEpochMs) {
        inDoubtReplayed.incrementAndGet();
      }
    } else if (doubt) {
      refused.add(new Refused(kind, convo, hash, r.status(), r.error()));
    }
    return new Outcome(r, doubt);
  }

  private final ThreadLocal<Boolean> lastInDoubt = ThreadLocal.withInitial(() -> false);

  Api.Reply exec(int node, Kind kind, String convo, DevIdentity who, String method, String body, byte[] data)
      throws Exception {
    boolean doubt = false;
    int attempt = 0;
    int conflicts = 0;
    long deadline = System.nanoTime() + Duration.ofSeconds(400).toNanos();
    while (true) {
      Node n = nodes.get((node + attempt) % nodes.size());
      try {
        Api.Reply r = api.post(n.baseUrl(), who, method, body);
        if (r.status() >= 500) {
          http5xx.incrementAndGet();
          if (r.status() == 503) {
            http503.incrementAndGet();
          } else {
            violation("run %d: %s answered %d: %s", runNo, method, r.status(), r.body());
            lastInDoubt.set(doubt);
            return r;
          }
        } else if (r.status() == 429) {
          http429.incrementAndGet();
        } else if (r.status() == 409 && r.error().equals("IdempotencyConflict") && conflicts++ < 20) {
          // The first attempt is still finishing (on PostgreSQL its backend has not noticed the dead
          // node yet), or it committed and its reply was not recorded: retry a little, then report.
          if (conflicts == 1) {
            inDoubtConflict.incrementAndGet();
          }
        } else {
          if (answers.computeIfAbsent(method + " " + r.status() + (r.status() == 200 ? "" : " " + r.error()),
              k -> new AtomicLong()).incrementAndGet() == 1 && r.status() == 400) {
            Faults.progress("first %s 400: %s", method, r.body());
          }
          lastInDoubt.set(doubt);
          if (doubt) {
            inDoubt.incrementAndGet();
          }
          return r;
        }
        Thread.sleep(100);
      } catch (HttpTimeoutException e) {
        hangs.incrementAndGet();
        violation("run %d: %s hung for 30 s on %s", runNo, method, n.name);
        doubt = true;
        attempt++;
      } catch (java.net.ConnectException e) {
        // Refused: the node is down and the request was never sent (not in doubt); try again / the other node.
        refusedConnects.incrementAndGet();
        attempt++;
        Thread.sleep(nodes.size() > 1 ? 20 : 50);
      } catch (IOException e) {
        doubt = true;
        attempt++;
        Thread.sleep(nodes.size() > 1 ? 20 : 50);
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(method + " got no answer for 400 s");
      }
    }
  }

  /** A query retried on connection failure (a claim lost with its node is simply not handed out). */
  Api.Reply getWithRetry(int node, DevIdentity who, String method, String... params) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(400).toNanos();
    int attempt = 0;
    while (System.nanoTime() < deadline) {
      Node n = nodes.get((node + attempt) % nodes.size());
      try {
        Api.Reply r = api.get(n.baseUrl(), who, method, params);
        if (r.status() >= 500) {
          http5xx.incrementAndGet();
          if (r.status() != 503) {
            violation("run %d: %s answered %d: %s", runNo, method, r.status(), r.body());
            return r;
          }
          http503.incrementAndGet();
          Thread.sleep(100);
          continue;
        }
        if (r.status() == 429) {
          http429.incrementAndGet();
          Thread.sleep(100);
          continue;
        }
        answers.computeIfAbsent(method + " " + r.status() + (r.status() == 200 ? "" : " " + r.error()),
            k -> new AtomicLong()).incrementAndGet();
        return r;
      } catch (HttpTimeoutException e) {
        hangs.incrementAndGet();
        violation("run %d: %s hung for 30 s on %s", runNo, method, n.name);
        attempt++;
      } catch (IOException e) {
        attempt++;
        Thread.sleep(nodes.size() > 1 ? 20 : 50);
      }
      if (stop && nodes.size() == 1 && attempt > 2000) {
        return null;
      }
    }
    throw new IllegalStateException(method + " got no answer for 400 s");
  }

  // ---- verification ----

  record Row(String convo, long seq, String id, String type, long epoch, String hash) {}

  record ConvoRow(long epoch, long latestSeq) {}

  void verifyRun(int run, List<Convo> convos, List<Ack> runAcks, List<AddAck> runAdds) throws Exception {
    List<String> ids = convos.stream().map(c -> c.id).toList();
    Map<String, List<Row>> byHash = new HashMap<>();
    try (Connection db = DriverManager.getConnection(dbUrl)) {
      List<Row> rows = messages(db, ids);
      checkLog(run, rows, convoRows(db, ids));
      for (Row r : rows) {
        byHash.computeIfAbsent(r.hash(), k -> new ArrayList<>()).add(r);
      }
      for (Ack a : runAcks) {
        if (a.dataHash() == null) {
          continue;
        }
        List<Row> found = byHash.getOrDefault(a.dataHash(), List.of());
        if (found.isEmpty()) {
          lost++;
          violation("run %d: acknowledged %s lost (convo %s, seq %d%s)", run, a.kind(), a.convo(), a.seq(),
              a.inDoubt() ? ", retried after the kill" : "");
        } else if (a.seq() > 0 && (found.get(0).seq() != a.seq() || !found.get(0).id().equals(a.messageId()))) {
          violation("run %d: acknowledged %s stored at seq %d id %s, acknowledged as seq %d id %s", run, a.kind(),
              found.get(0).seq(), found.get(0).id(), a.seq(), a.messageId());
        }
      }
      for (Refused f : new ArrayList<>(refused)) {
        if (f.dataHash() != null && ids.contains(f.convo()) && byHash.containsKey(f.dataHash())) {
          committedButRefused++;
          violation("run %d: a %s in flight at the kill was committed, but its retry with the same key answered "
              + "%d %s instead of the committed result", run, f.kind(), f.status(), f.error());
        }
      }
      refused.clear();
      // KeyPackages handed out stay handed out (reserved for the lease, or used/consumed).
      List<String> refs = new ArrayList<>(claimedThisRun);
      for (int i = 0; i < refs.size(); i += 200) {
        List<String> part = refs.subList(i, Math.min(refs.size(), i + 200));
        String sql = "SELECT ref, state FROM key_packages WHERE ref IN (" + "?,".repeat(part.size() - 1) + "?)";
        try (PreparedStatement p = db.prepareStatement(sql)) {
          for (int k = 0; k < part.size(); k++) {
            p.setString(k + 1, part.get(k));
          }
          try (ResultSet rs = p.executeQuery()) {
            while (rs.next()) {
              if (rs.getString(2).equals("available")) {
                claimsBackToAvailable++;
                violation("run %d: KeyPackage %s was handed out but is available again after the kill", run,
                    rs.getString(1));
              }
            }
          }
        }
      }
      // Welcomes of acknowledged adds: stored, with the acknowledged bytes.
      for (AddAck a : runAdds) {
        try (PreparedStatement p = db.prepareStatement(
            "SELECT b.data, w.did FROM welcomes w JOIN welcome_blobs b ON b.id = w.blob_id"
                + " WHERE w.convo_id = ? AND w.key_package_ref = ?")) {
          p.setString(1, a.convo());
          p.setString(2, a.ref());
          try (ResultSet rs = p.executeQuery()) {
            if (!rs.next() || !Arrays.equals(rs.getBytes(1), a.welcome())
                || !rs.getString(2).equals(a.joiner().did().value())) {
              welcomesLost++;
              violation("run %d: the Welcome of an acknowledged add is missing or altered (convo %s, ref %s)", run,
                  a.convo(), a.ref());
            }
          }
        }
      }
    }
    // ... and fetchable by the joiner over HTTP after the restart.
    for (AddAck a : runAdds) {
      Api.Reply r = getWithRetry(0, a.joiner(), "getWelcome", "convoId", a.convo());
      if (r == null || r.status() != 200
          || !Arrays.equals(Base64.getUrlDecoder().decode(r.json().get("welcome").asText()), a.welcome())) {
        welcomesLost++;
        violation("run %d: the joiner cannot fetch the Welcome of an acknowledged add after the restart: %s", run,
            r == null ? "no answer" : r.status() + " " + r.body());
      }
    }
    // Replays: every call in flight at the kill plus a sample of the others, resent with the same key.
    List<Ack> sample = new ArrayList<>();
    List<Ack> others = new ArrayList<>();
    for (Ack a : runAcks) {
      (a.inDoubt() ? sample : others).add(a);
    }
    Collections.shuffle(others, random);
    sample.addAll(others.subList(0, Math.min(25, others.size())));
    for (Ack a : sample) {
      Api.Reply r = exec(0, a.kind(), a.convo(), a.who(), a.method(), a.body(), null);
      replaysChecked++;
      if (r.status() != 200 || !r.body().equals(a.reply())) {
        replaysMismatched++;
        violation("run %d: replay of an acknowledged %s with its idempotency key answered %d %s, first answer %s", run,
            a.method(), r.status(), r.body(), a.reply());
      }
    }
  }

  /** The same log checks over every conversation of every run. */
  void verifyAll() throws Exception {
    List<String> ids = allConvos.stream().map(c -> c.id).toList();
    try (Connection db = DriverManager.getConnection(dbUrl)) {
      List<Row> rows = messages(db, ids);
      checkLog(0, rows, convoRows(db, ids));
    }
  }

  /** Seq 1..n without gaps = latest_seq; one Commit per epoch, as many as the epoch; no data stored twice. */
  void checkLog(int run, List<Row> rows, Map<String, ConvoRow> convos) {
    Map<String, List<Row>> byConvo = new TreeMap<>();
    Map<String, Integer> hashes = new HashMap<>();
    for (Row r : rows) {
      byConvo.computeIfAbsent(r.convo(), k -> new ArrayList<>()).add(r);
      if (hashes.merge(r.hash(), 1, Integer::sum) == 2) {
        duplicated++;
        violation("run %d: the same MLS message is stored twice (convo %s, seq %d)", run, r.convo(), r.seq());
      }
    }
    for (Map.Entry<String, ConvoRow> e : convos.entrySet()) {
      List<Row> log = byConvo.getOrDefault(e.getKey(), List.of());
      for (int i = 0; i < log.size(); i++) {
        if (log.get(i).seq() != i + 1) {
          seqGaps++;
          violation("run %d: convo %s seq %d at position %d (gap or duplicate)", run, e.getKey(), log.get(i).seq(),
              i + 1);
          break;
        }
      }
      if (e.getValue().latestSeq() != log.size()) {
        seqGaps++;
        violation("run %d: convo %s latest_seq %d but %d messages", run, e.getKey(), e.getValue().latestSeq(),
            log.size());
      }
      List<Long> commitEpochs = log.stream().filter(r -> r.type().equals("commit")).map(Row::epoch).sorted().toList();
      long distinct = commitEpochs.stream().distinct().count();
      boolean contiguous = commitEpochs.isEmpty()
          || commitEpochs.get(commitEpochs.size() - 1) - commitEpochs.get(0) == commitEpochs.size() - 1;
      if (distinct != commitEpochs.size() || !contiguous || commitEpochs.size() != e.getValue().epoch()) {
        commitEpochViolations++;
        violation("run %d: convo %s at epoch %d has commits for epochs %s", run, e.getKey(), e.getValue().epoch(),
            commitEpochs);
      }
    }
  }

  List<Row> messages(Connection db, List<String> ids) throws Exception {
    List<Row> rows = new ArrayList<>();
    String sql = "SELECT convo_id, seq, id, content_type, epoch, data FROM messages WHERE convo_id IN ("
        + "?,".repeat(ids.size() - 1) + "?) ORDER BY convo_id, seq";
    try (PreparedStatement p = db.prepareStatement(sql)) {
      for (int i = 0; i < ids.size(); i++) {
        p.setString(i + 1, ids.get(i));
      }
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          rows.add(new Row(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getLong(5),
              sha256(rs.getBytes(6))));
        }
      }
    }
    return rows;
  }

  Map<String, ConvoRow> convoRows(Connection db, List<String> ids) throws Exception {
    Map<String, ConvoRow> out = new TreeMap<>();
    String sql = "SELECT id, epoch, latest_seq FROM convos WHERE id IN (" + "?,".repeat(ids.size() - 1) + "?)";
    try (PreparedStatement p = db.prepareStatement(sql)) {
      for (int i = 0; i < ids.size(); i++) {
        p.setString(i + 1, ids.get(i));
      }
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), new ConvoRow(rs.getLong(2), rs.getLong(3)));
        }
      }
    }
    for (String id : ids) {
      if (!out.containsKey(id)) {
        violation("acknowledged conversation %s is missing", id);
      }
    }
    return out;
  }

  // ---- figures ----

  Map<String, Object> figures(double seconds) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("test", "kill");
    out.put("backend", o.backend());
    out.put("nodes", o.nodes());
    out.put("runs", killAtMs.size());
    out.put("seed", o.seed());
    out.put("seconds", Math.round(seconds));
    Map<String, Long> acked = new LinkedHashMap<>();
    for (Kind k : Kind.values()) {
      acked.put(k.name().toLowerCase(java.util.Locale.ROOT), acks.stream().filter(a -> a.kind() == k).count());
    }
    acked.put("keyPackagesHandedOut", claimsHandedOut.get());
    acked.put("welcomesFetched", welcomesFetched.get());
    out.put("acknowledged", acked);
    out.put("lost", lost);
    out.put("duplicated", duplicated);
    out.put("seqGaps", seqGaps);
    out.put("commitEpochViolations", commitEpochViolations);
    out.put("keyPackagesHandedOutTwice", claimsTwice.get());
    out.put("keyPackagesBackToAvailable", claimsBackToAvailable);
    out.put("welcomesLost", welcomesLost);
    Map<String, Long> doubt = new LinkedHashMap<>();
    doubt.put("retried", inDoubt.get());
    doubt.put("connectionsRefusedWhileDown", refusedConnects.get());
    doubt.put("committedBeforeKill", inDoubtReplayed.get());
    doubt.put("idempotencyConflictSeen", inDoubtConflict.get());
    doubt.put("committedButRetryRefused", committedButRefused);
    out.put("inFlightAtKill", doubt);
    out.put("replaysChecked", replaysChecked);
    out.put("replaysMismatched", replaysMismatched);
    out.put("http5xx", http5xx.get());
    out.put("http503", http503.get());
    out.put("http429", http429.get());
    out.put("hangs", hangs.get());
    out.put("restartToReadyMsP50", Faults.percentile(restartMs, 50));
    out.put("restartToReadyMsP99", Faults.percentile(restartMs, 99));
    Map<String, Long> byAnswer = new TreeMap<>();
    answers.forEach((k, v) -> byAnswer.put(k, v.get()));
    out.put("answers", byAnswer);
    out.put("violations", new ArrayList<>(violations));
    return out;
  }

  void violation(String format, Object... args) {
    String v = String.format(java.util.Locale.ROOT, format, args);
    Faults.progress("VIOLATION %s", v);
    synchronized (violations) {
      if (violations.size() < 200) {
        violations.add(v);
      }
    }
  }

  // ---- MLS bytes and JSON ----

  static byte[] keyPackage(DevIdentity who, SigningKey key) {
    Instant now = Instant.now();
    return TestKeyPackages.builder(SUITE, who.did().value()).signingKey(key)
        .lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(30))).framed(true).build();
  }

  /** A PrivateMessage of {@code groupId} at {@code epoch} with random ciphertext (so every one is unique). */
  byte[] privateMessage(byte[] groupId, long epoch, int size) {
    byte[] ct = new byte[size];
    byte[] sender = new byte[16];
    synchronized (this) {
      random.nextBytes(ct);
      random.nextBytes(sender);
    }
    ByteBuffer b = ByteBuffer.allocate(4 + 1 + groupId.length + 8 + 1 + 1 + 1 + 16 + 2 + size);
    b.putShort((short) 1).putShort((short) WireFormat.MLS_PRIVATE_MESSAGE.value());
    b.put((byte) groupId.length).put(groupId).putLong(epoch).put((byte) ContentType.APPLICATION.value());
    b.put((byte) 0);
    b.put((byte) 16).put(sender);
    b.putShort((short) (0x4000 | size)).put(ct);
    return b.array();
  }

  static Map<String, String> bytes(byte[] b) {
    return Map.of("$bytes", Base64.getEncoder().encodeToString(b));
  }

  /** A JSON body with a fresh idempotency key. */
  static String body(Map<String, ?> fields) {
    Map<String, Object> m = new LinkedHashMap<>(fields);
    m.put("idempotencyKey", UUID.randomUUID().toString());
    try {
      return Faults.JSON.writeValueAsString(m);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
