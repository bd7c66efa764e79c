package dev.mlsds.benchmarks.faults;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
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
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code benchmarks/faults diskfull}: the volume of the SQLite file, or the data directory of a private
 * PostgreSQL cluster (WAL included), is a small tmpfs of its own with a ballast file on it. A sender fills
 * it with 64 KiB messages until the node refuses; then the answers while full are counted (503 expected,
 * never 500), reads and readiness are checked, the ballast is deleted ("space returns"), and the time to
 * the next 200 is measured. Afterwards every acknowledged message must be stored once, seq gap-free.
 * Needs root (mount -t tmpfs).
 */
final class DiskFull {
  private final String backend;
  private final String jar;
  private final Api api = new Api(Duration.ofSeconds(20));
  private final List<String> violations = new ArrayList<>();

  DiskFull(String backend, String jar) {
    if (!backend.equals("sqlite") && !backend.equals("postgres")) {
      throw new IllegalArgumentException("--backend sqlite|postgres");
    }
    this.backend = backend;
    this.jar = jar;
  }

  /** True when this process may mount a tmpfs (root, and a container that allows it): tried once. */
  static boolean canMount() {
    if (!"root".equals(System.getProperty("user.name"))) {
      return false;
    }
    try {
      Path probe = Files.createTempDirectory("mlsds-faults-mount");
      try {
        exec("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe.toString());
        exec("umount", probe.toString());
        return true;
      } finally {
        Files.deleteIfExists(probe);
      }
    } catch (Exception e) {
      return false;
    }
  }

  Map<String, Object> run() throws Exception {
    if (!canMount()) {
      throw new IllegalStateException("diskfull mounts a tmpfs: run it as root");
    }
    long t0 = System.nanoTime();
    Path work = Files.createTempDirectory("mlsds-faults-disk");
    Path vol = work.resolve("vol");
    Files.createDirectories(vol);
    boolean pgBackend = backend.equals("postgres");
    exec("mount", "-t", "tmpfs", "-o", "size=" + (pgBackend ? "96m" : "16m"), "tmpfs", vol.toString());
    PrivatePg pg = null;
    Node node = null;
    Map<String, Object> out = new LinkedHashMap<>();
    try {
      String url;
      if (pgBackend) {
        pg = PrivatePg.create(vol.resolve("pg"));
        try (Connection c = DriverManager.getConnection(pg.adminUrl()); Statement s = c.createStatement()) {
          s.execute("CREATE DATABASE mlsds");
        }
        url = pg.url("mlsds");
      } else {
        url = "jdbc:sqlite:" + vol.resolve("mlsds.db");
      }
      node = new Node("node0", jar, url, work).env("MLSDS_MIN_FREE_DISK_MB", "2");
      Node n = node;
      Runtime.getRuntime().addShutdownHook(new Thread(n::killQuietly));
      node.start();
      String base = node.baseUrl();
      // The ballast: what an operator frees when the disk is full.
      Path ballast = vol.resolve("ballast");
      long ballastBytes = pgBackend ? 12L << 20 : 4L << 20;
      try (OutputStream f = Files.newOutputStream(ballast)) {
        f.write(new byte[(int) ballastBytes]);
      }
      DevIdentity alice = DevIdentity.generate(KeyType.P256);
      byte[] g = new byte[16];
      new SecureRandom().nextBytes(g);
      String convo = HexFormat.of().formatHex(g);
      Api.Reply created = api.post(base, alice, "createConvo", KillSuite.body(Map.of("groupId", convo,
          "cipherSuite", CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.name())));
      if (created.status() != 200) {
        throw new IllegalStateException("createConvo: " + created);
      }
      SecureRandom random = new SecureRandom();
      Set<String> acked = new HashSet<>();
      Map<String, Long> answers = new TreeMap<>();
      Api.Reply r = null;
      String body = null;
      byte[] data = null;
      int sent = 0;
      while (sent < 5000) {
        data = message(g, random);
        body = KillSuite.body(Map.of("convoId", convo, "ciphertext", KillSuite.bytes(data)));
        r = send(base, alice, body, answers);
        if (r == null || r.status() != 200) {
          break;
        }
        acked.add(KillSuite.sha256(data));
        sent++;
      }
      out.put("test", "diskfull");
      out.put("backend", backend + " on a " + (pgBackend ? "96" : "16") + " MiB tmpfs");
      out.put("acknowledgedBeforeFull", acked.size());
      out.put("firstRefusal", r == null ? "no answer" : r.status() + " " + r.error());
      if (r == null || r.status() != 503) {
        violation("the first refused write answered %s", r == null ? "nothing" : r.status() + " " + r.body());
      } else if (r.headers().firstValue("Retry-After").isEmpty()) {
        violation("503 without Retry-After");
      }
      // While full: more writes (the same call, retried), a read, readiness.
      int refusedWhileFull = 0;
      for (int i = 0; i < 10; i++) {
        Api.Reply again = send(base, alice, body, answers);
        if (again != null && again.status() == 503) {
          refusedWhileFull++;
        } else if (again != null && again.status() == 200) {
          acked.add(KillSuite.sha256(data));
          break; // space appeared (e.g. SQLite reused freed pages)
        } else {
          violation("while full, a write answered %s", again == null ? "nothing" : again.status() + " " + again.body());
        }
        Thread.sleep(100);
      }
      out.put("refusedWhileFull", refusedWhileFull);
      Api.Reply read = api.get(base, alice, "getMessages", "convoId", convo, "sinceSeq", "0", "limit", "1");
      out.put("readWhileFull", read.status() + (read.status() == 200 ? "" : " " + read.error()));
      if (read.status() >= 500 && read.status() != 503) {
        violation("a read while full answered %d", read.status());
      }
      Api.Reply ready = api.plain(base + "/health/ready");
      out.put("readyWhileFull", ready.status());
      out.put("storageCheckWhileFull", ready.status() == 200 ? "ok" : ready.json().path("checks").path("storage").asText());
      // Space returns.
      Files.delete(ballast);
      long freedAt = System.nanoTime();
      boolean pgRestarted = false;
      long recoveredMs = -1;
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (System.nanoTime() < deadline) {
        if (pg != null && !pg.running() && !pgRestarted) {
          // PostgreSQL shut itself down (a PANIC while writing WAL on a full disk); an operator starts it.
          pgRestarted = true;
          pg.start();
        }
        Api.Reply again = send(base, alice, body, answers);
        if (again != null && again.status() == 200) {
          acked.add(KillSuite.sha256(data));
          recoveredMs = (System.nanoTime() - freedAt) / 1_000_000;
          break;
        }
        Thread.sleep(50);
      }
      out.put("recoveredAfterSpaceReturnedMs", recoveredMs);
      out.put("postgresNeededAStart", pgRestarted);
      if (recoveredMs < 0) {
        violation("no 200 within 60 s after space returned");
      }
      out.put("answers", answers);
      // Nothing acknowledged lost, nothing twice, seq gap-free.
      List<Long> seqs = new ArrayList<>();
      Set<String> stored = new HashSet<>();
      long duplicated = 0;
      try (Connection db = DriverManager.getConnection(url);
          PreparedStatement p = db.prepareStatement("SELECT seq, data FROM messages WHERE convo_id = ? ORDER BY seq")) {
        p.setString(1, convo);
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            seqs.add(rs.getLong(1));
            if (!stored.add(KillSuite.sha256(rs.getBytes(2)))) {
              duplicated++;
            }
          }
        }
      }
      long lost = acked.stream().filter(h -> !stored.contains(h)).count();
      boolean gapFree = true;
      for (int i = 0; i < seqs.size(); i++) {
        gapFree &= seqs.get(i) == i + 1;
      }
      out.put("acknowledged", acked.size());
      out.put("lost", lost);
      out.put("duplicated", duplicated);
      out.put("seqGapFree", gapFree);
      if (lost > 0 || duplicated > 0 || !gapFree) {
        violation("after the disk-full episode: %d lost, %d duplicated, gap-free %s", lost, duplicated, gapFree);
      }
      out.put("http500", answers.entrySet().stream().filter(e -> e.getKey().startsWith("500")).mapToLong(Map.Entry::getValue).sum());
      out.put("seconds", Math.round((System.nanoTime() - t0) / 1e9));
      out.put("violations", new ArrayList<>(violations));
      return out;
    } finally {
      if (node != null) {
        node.kill();
      }
      if (pg != null) {
        pg.close();
      }
      exec("umount", "-l", vol.toString());
      if (violations.isEmpty()) {
        Faults.deleteTree(work);
      } else {
        Faults.progress("violations; node log kept in %s", work);
      }
    }
  }

  /** One sendMessage; null when the connection failed. */
  Api.Reply send(String base, DevIdentity who, String body, Map<String, Long> answers) throws InterruptedException {
    try {
      Api.Reply r = api.post(base, who, "sendMessage", body);
      answers.merge(r.status() + (r.status() == 200 ? "" : " " + r.error()), 1L, Long::sum);
      return r;
    } catch (HttpTimeoutException e) {
      answers.merge("timeout", 1L, Long::sum);
      violation("sendMessage hung (no answer in 20 s)");
      return null;
    } catch (IOException e) {
      answers.merge("connection failed", 1L, Long::sum);
      return null;
    }
  }

  static byte[] message(byte[] groupId, SecureRandom random) {
    byte[] ct = new byte[64 * 1024];
    random.nextBytes(ct);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 1 + groupId.length + 8 + 1 + 1 + 1 + 16 + 4 + ct.length);
    b.putShort((short) 1).putShort((short) dev.mlsds.codec.WireFormat.MLS_PRIVATE_MESSAGE.value());
    b.put((byte) groupId.length).put(groupId).putLong(0).put((byte) dev.mlsds.codec.ContentType.APPLICATION.value());
    b.put((byte) 0);
    b.put((byte) 16).put(new byte[16]);
    b.putInt(0x80000000 | ct.length).put(ct); // 4-byte varint length
    return b.array();
  }

  void violation(String format, Object... args) {
    String v = String.format(java.util.Locale.ROOT, format, args);
    Faults.progress("VIOLATION %s", v);
    violations.add(v);
  }

  static void exec(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + ": " + out);
    }
  }
}
