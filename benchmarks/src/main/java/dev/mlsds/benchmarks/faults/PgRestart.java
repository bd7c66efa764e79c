package dev.mlsds.benchmarks.faults;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code benchmarks/faults pgrestart}: PostgreSQL crashes and comes back under load. A private cluster
 * (never the shared server) is stopped with {@code pg_ctl stop -m immediate} (every backend killed, crash
 * recovery on start) while senders keep sending, left down for {@code --down-ms}, and started again.
 * Checked: while it is away every answer is 503 (no 500, none slower than the request timeout); after
 * {@code pg_ctl start} returns, the node answers 200 again by itself (the time to the first 200 is the
 * recovery time, p50/p99 over the restarts); nothing acknowledged is lost or stored twice, seq stays
 * gap-free; an SSE stream of the conversation (reconnecting with Last-Event-ID, as a client does) receives
 * every message exactly once.
 */
final class PgRestart {
  record Options(int restarts, int downMs, int senders) {
    static Options from(Map<String, String> m) {
      int restarts = Integer.parseInt(m.getOrDefault("--restarts", "10"));
      int down = Integer.parseInt(m.getOrDefault("--down-ms", "2000"));
      int senders = Integer.parseInt(m.getOrDefault("--senders", "4"));
      if (restarts < 1 || restarts > 200 || down < 0 || down > 60_000 || senders < 1 || senders > 64) {
        throw new IllegalArgumentException("--restarts 1..200, --down-ms 0..60000, --senders 1..64");
      }
      return new Options(restarts, down, senders);
    }
  }

  record Acked(String convo, long seq, String hash) {}

  private final Options o;
  private final String jar;
  private final Api api = new Api(Duration.ofSeconds(15));
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  private final ConcurrentLinkedQueue<Acked> acked = new ConcurrentLinkedQueue<>();
  private final AtomicLong http500 = new AtomicLong();
  private final AtomicLong http503 = new AtomicLong();
  private final AtomicLong otherErrors = new AtomicLong();
  private final AtomicLong hangs = new AtomicLong();
  private final AtomicLong sendsWhileDown = new AtomicLong();
  private final AtomicLong maxAnswerMsWhileDown = new AtomicLong();
  private final List<Long> recoveryMs = new ArrayList<>();
  private volatile boolean stop;
  private volatile boolean down;
  private volatile long backAtNanos;
  private final AtomicLong firstOkAfterBack = new AtomicLong();

  PgRestart(Options o, String jar) {
    this.o = o;
    this.jar = jar;
  }

  Map<String, Object> run() throws Exception {
    long t0 = System.nanoTime();
    Path work = Files.createTempDirectory("mlsds-faults-pg");
    boolean keep = false;
    Node node = null;
    try (PrivatePg pg = PrivatePg.create(work.resolve("pg"))) {
      try (Connection c = DriverManager.getConnection(pg.adminUrl()); Statement s = c.createStatement()) {
        s.execute("CREATE DATABASE mlsds");
      }
      String url = pg.url("mlsds");
      node = new Node("node0", jar, url, work);
      Node n = node;
      Runtime.getRuntime().addShutdownHook(new Thread(n::killQuietly));
      node.start();
      node.stop();
      node.start();
      String base = node.baseUrl();

      List<DevIdentity> creators = new ArrayList<>();
      List<byte[]> groups = new ArrayList<>();
      for (int c = 0; c < 2; c++) {
        DevIdentity who = DevIdentity.generate(KeyType.P256);
        byte[] g = new byte[16];
        new SecureRandom().nextBytes(g);
        Api.Reply r = api.post(base, who, "createConvo", KillSuite.body(Map.of("groupId", HexFormat.of().formatHex(g),
            "cipherSuite", CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.name())));
        if (r.status() != 200) {
          throw new IllegalStateException("createConvo: " + r);
        }
        creators.add(who);
        groups.add(g);
      }
      String watched = HexFormat.of().formatHex(groups.get(0));
      try (Stream stream = new Stream(base, creators.get(0), watched)) {
        stream.awaitReady(Duration.ofSeconds(30));
        List<Thread> senders = new ArrayList<>();
        for (int s = 0; s < o.senders(); s++) {
          int c = s % 2;
          senders.add(Thread.ofPlatform().daemon().name("sender-" + s)
              .start(() -> sendLoop(base, creators.get(c), groups.get(c))));
        }
        Thread.sleep(1500);
        for (int i = 1; i <= o.restarts(); i++) {
          down = true;
          pg.stopImmediate();
          Thread.sleep(o.downMs());
          pg.start();
          firstOkAfterBack.set(0);
          backAtNanos = System.nanoTime();
          down = false;
          long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
          while (firstOkAfterBack.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
          }
          long ok = firstOkAfterBack.get();
          if (ok == 0) {
            violation("restart %d: no 200 within 30 s of PostgreSQL's return", i);
          } else {
            recoveryMs.add((ok - backAtNanos) / 1_000_000);
          }
          Faults.progress("restart %d/%d: down %d ms, first 200 %s ms after PostgreSQL was back; %d acknowledged, "
              + "%d x 503, %d x 500", i, o.restarts(), o.downMs(), ok == 0 ? "never" : (ok - backAtNanos) / 1_000_000,
              acked.size(), http503.get(), http500.get());
          Thread.sleep(1000 + new SecureRandom().nextInt(1000));
        }
        stop = true;
        for (Thread t : senders) {
          t.join(Duration.ofSeconds(60));
        }
        // Let the stream catch up with the last messages.
        long expected = acked.stream().filter(a -> a.convo().equals(watched)).count();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (stream.seqs.size() < expected && System.nanoTime() < deadline) {
          Thread.sleep(50);
        }
        Thread.sleep(500);
        Map<String, Object> out = verify(url, watched, stream);
        out.put("seconds", Math.round((System.nanoTime() - t0) / 1e9));
        keep = !violations.isEmpty();
        out.put("violations", new ArrayList<>(violations));
        return out;
      }
    } finally {
      if (node != null) {
        node.kill();
      }
      if (keep) {
        Faults.progress("violations found; logs kept in %s", work);
      } else {
        Faults.deleteTree(work);
      }
    }
  }

  void sendLoop(String base, DevIdentity who, byte[] group) {
    SecureRandom random = new SecureRandom();
    String convo = HexFormat.of().formatHex(group);
    while (!stop) {
      byte[] data = new byte[0];
      String body;
      synchronized (random) {
        data = privateMessage(group, random);
      }
      body = KillSuite.body(Map.of("convoId", convo, "ciphertext", KillSuite.bytes(data)));
      // The same body (idempotency key) until it is answered with something other than 503.
      while (true) {
        boolean wasDown = down;
        long t = System.nanoTime();
        try {
          Api.Reply r = api.post(base, who, "sendMessage", body);
          long ms = (System.nanoTime() - t) / 1_000_000;
          if (wasDown) {
            sendsWhileDown.incrementAndGet();
            maxAnswerMsWhileDown.accumulateAndGet(ms, Math::max);
          }
          if (r.status() == 200) {
            acked.add(new Acked(convo, r.json().get("seq").asLong(), KillSuite.sha256(data)));
            if (!down && backAtNanos != 0 && t >= backAtNanos) {
              firstOkAfterBack.compareAndSet(0, System.nanoTime());
            }
            break;
          }
          if (r.status() == 503) {
            http503.incrementAndGet();
            if (r.error().isEmpty() || !r.error().equals("Unavailable")) {
              violation("503 without the Unavailable error body: %s", r.body());
            }
          } else if (r.status() >= 500) {
            http500.incrementAndGet();
            violation("sendMessage answered %d while PostgreSQL was %s: %s", r.status(), wasDown ? "down" : "up",
                r.body());
          } else {
            otherErrors.incrementAndGet();
            violation("sendMessage answered %d: %s", r.status(), r.body());
            break;
          }
        } catch (HttpTimeoutException e) {
          hangs.incrementAndGet();
          violation("sendMessage got no answer within 15 s (PostgreSQL %s)", wasDown ? "down" : "up");
        } catch (IOException e) {
          violation("sendMessage: connection failed: %s", e);
        } catch (InterruptedException e) {
          return;
        }
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  Map<String, Object> verify(String url, String watched, Stream stream) throws Exception {
    Map<String, List<Long>> seqByConvo = new TreeMap<>();
    Map<String, Long> latest = new HashMap<>();
    Map<String, Integer> hashes = new HashMap<>();
    long duplicated = 0;
    try (Connection db = DriverManager.getConnection(url)) {
      try (PreparedStatement p = db.prepareStatement("SELECT convo_id, seq, data FROM messages ORDER BY convo_id, seq");
          ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          seqByConvo.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getLong(2));
          if (hashes.merge(KillSuite.sha256(rs.getBytes(3)), 1, Integer::sum) == 2) {
            duplicated++;
            violation("a message is stored twice (convo %s seq %d)", rs.getString(1), rs.getLong(2));
          }
        }
      }
      try (PreparedStatement p = db.prepareStatement("SELECT id, latest_seq FROM convos"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          latest.put(rs.getString(1), rs.getLong(2));
        }
      }
    }
    long lost = 0;
    for (Acked a : acked) {
      if (!hashes.containsKey(a.hash())) {
        lost++;
        violation("acknowledged message lost (convo %s seq %d)", a.convo(), a.seq());
      }
    }
    long gaps = 0;
    for (var e : seqByConvo.entrySet()) {
      List<Long> s = e.getValue();
      for (int i = 0; i < s.size(); i++) {
        if (s.get(i) != i + 1) {
          gaps++;
          violation("convo %s: seq %d at position %d", e.getKey(), s.get(i), i + 1);
          break;
        }
      }
      if (latest.getOrDefault(e.getKey(), -1L) != s.size()) {
        gaps++;
        violation("convo %s: latest_seq %d, %d messages", e.getKey(), latest.get(e.getKey()), s.size());
      }
    }
    List<Long> got = new ArrayList<>(stream.seqs);
    List<Long> all = seqByConvo.getOrDefault(watched, List.of());
    long streamDuplicates = got.size() - got.stream().distinct().count();
    long streamMissed = all.stream().filter(s -> !got.contains(s)).count();
    if (streamDuplicates > 0) {
      violation("the stream delivered %d messages twice", streamDuplicates);
    }
    if (streamMissed > 0) {
      violation("the stream missed %d of %d messages", streamMissed, all.size());
    }
    for (int i = 1; i < got.size(); i++) {
      if (got.get(i) <= got.get(i - 1)) {
        violation("the stream delivered seq %d after %d", got.get(i), got.get(i - 1));
        break;
      }
    }
    if (stream.serverErrors.get() > 0) {
      violation("the stream was refused with a 5xx other than 503 %d times", stream.serverErrors.get());
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("test", "pgrestart");
    out.put("backend", "postgres (private cluster, pg_ctl stop -m immediate)");
    out.put("restarts", recoveryMs.size());
    out.put("downMs", o.downMs());
    out.put("senders", o.senders());
    out.put("acknowledged", acked.size());
    out.put("lost", lost);
    out.put("duplicated", duplicated);
    out.put("seqGaps", gaps);
    out.put("http500", http500.get());
    out.put("http503", http503.get());
    out.put("otherErrors", otherErrors.get());
    out.put("hangs", hangs.get());
    out.put("answersWhileDown", sendsWhileDown.get());
    out.put("slowestAnswerWhileDownMs", maxAnswerMsWhileDown.get());
    out.put("recoveryMsP50", Faults.percentile(recoveryMs, 50));
    out.put("recoveryMsP99", Faults.percentile(recoveryMs, 99));
    out.put("recoveryMsMax", recoveryMs.stream().mapToLong(Long::longValue).max().orElse(-1));
    out.put("streamMessages", got.size());
    out.put("streamExpected", all.size());
    out.put("streamMissed", streamMissed);
    out.put("streamDuplicates", streamDuplicates);
    out.put("streamReconnects", stream.reconnects.get());
    return out;
  }

  static byte[] privateMessage(byte[] groupId, SecureRandom random) {
    byte[] ct = new byte[64 + random.nextInt(128)];
    random.nextBytes(ct);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 1 + groupId.length + 8 + 1 + 1 + 1 + 16 + 2 + ct.length);
    b.putShort((short) 1).putShort((short) dev.mlsds.codec.WireFormat.MLS_PRIVATE_MESSAGE.value());
    b.put((byte) groupId.length).put(groupId).putLong(0).put((byte) dev.mlsds.codec.ContentType.APPLICATION.value());
    b.put((byte) 0);
    b.put((byte) 16).put(new byte[16]);
    b.putShort((short) (0x4000 | ct.length)).put(ct);
    return b.array();
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
}
