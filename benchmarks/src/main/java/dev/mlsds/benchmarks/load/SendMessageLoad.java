package dev.mlsds.benchmarks.load;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.net.URI;
import java.nio.ByteBuffer;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.DriverManager;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded loopback load test of {@code sendMessage}: one node in this process, {@code senders} virtual
 * threads each sending 1 KiB PrivateMessages over HTTP with real service tokens, either all into one
 * conversation (every send serializes on that conversation's row lock) or one conversation each.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.mlsds.benchmarks.load.SendMessageLoad \
 *     sqlite|postgres [senders=64] [seconds=15] [one|many]
 * </pre>
 *
 * Prints throughput and p50/p99/max latency. Stops after {@code seconds} or 200,000 requests, whichever
 * comes first; only 127.0.0.1 is ever a target.
 */
public final class SendMessageLoad {
  static final int MAX_REQUESTS = 200_000;

  public static void main(String[] args) throws Exception {
    String backend = args.length > 0 ? args[0] : "sqlite";
    int senders = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 15;
    boolean oneConvo = args.length <= 3 || args[3].equals("one");
    withServer(backend, server -> run(server, senders, seconds, oneConvo, backend));
  }

  /** Work done against a running node. */
  interface Load {
    void run(Server server) throws Exception;
  }

  /**
   * Starts one node on a fresh SQLite file or PostgreSQL database (dev defaults, request rate limits off),
   * runs {@code load}, stops the node and drops the database.
   */
  static void withServer(String backend, Load load) throws Exception {
    String url;
    String pgName = null;
    if (backend.equals("postgres")) {
      pgName = "mlsds_bench_" + Long.toHexString(new SecureRandom().nextLong() & Long.MAX_VALUE);
      try (var c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres")) {
        c.createStatement().execute("CREATE DATABASE " + pgName);
      }
      url = "jdbc:postgresql://127.0.0.1:5432/" + pgName + "?user=postgres";
    } else {
      url = "jdbc:sqlite:" + Files.createTempDirectory("mlsds-bench").resolve("mlsds.db");
    }
    Config d = Config.devDefaults();
    Config.Limits l = d.limits();
    Config.Limits limits = new Config.Limits(l.keyPackageMaxBytes(), l.keyPackagesPerPublish(),
        l.availableKeyPackagesPerDevice(), l.keyPackageMaxLifetime(), l.reservationLease(), l.didsPerGetKeyPackages(),
        l.membersPerConvo(), l.messageMaxBytes(), l.requestMaxBytes(), l.applicationEpochWindow(), l.welcomeGrace(),
        l.tokenMaxLifetime(), l.keyPackageLowThreshold(), Integer.MAX_VALUE / 2, l.keyPackageClaimsPerCallerPerMinute(),
        l.keyPackageClaimsPerTargetPerMinute());
    Config plain = new Config(d.profile(), "127.0.0.1", 0, Path.of("unused"), url, d.serviceDid(), true,
        d.plcUrl(), List.of(), null, limits);
    // "one" posts as a single caller from all senders: lift the per-caller in-flight cap like the rate limits.
    Config config = plain.withBounds(plain.bounds().withInFlightPerCaller(Integer.MAX_VALUE / 2)
        .withSqliteSynchronous(System.getProperty("mlsds.sqliteSynchronous", "FULL")));
    Server server = Wiring.build(config, Clock.systemUTC()).start();
    try {
      load.run(server);
    } finally {
      server.stop();
      if (pgName != null) {
        try (var c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres")) {
          c.createStatement().execute("DROP DATABASE IF EXISTS " + pgName + " WITH (FORCE)");
        }
      }
    }
  }

  static void run(Server server, int senders, int seconds, boolean oneConvo, String backend) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    String base = "http://127.0.0.1:" + server.port() + "/xrpc/blue.catbird.mls.";
    String aud = server.config().serviceDid();
    SecureRandom random = new SecureRandom();
    List<DevIdentity> users = new ArrayList<>();
    List<byte[]> groups = new ArrayList<>();
    for (int i = 0; i < senders; i++) {
      users.add(DevIdentity.generate(KeyType.P256));
    }
    int convos = oneConvo ? 1 : senders;
    for (int i = 0; i < convos; i++) {
      byte[] g = new byte[16];
      random.nextBytes(g);
      groups.add(g);
      // "one": user 0's conversation, all senders post as user 0 (one member, many devices);
      // "many": each sender owns its conversation.
      post(http, base, "createConvo", users.get(i).token(aud, "blue.catbird.mls.createConvo"),
          "{\"groupId\":\"" + HexFormat.of().formatHex(g) + "\",\"cipherSuite\":\"" + CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.name() + "\"}");
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    AtomicLong issued = new AtomicLong();
    List<Future<long[]>> results = new ArrayList<>();
    long start = System.nanoTime();
    long cpuStart = SendMessageLoad.processCpuNanos();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int s = 0; s < senders; s++) {
        int idx = s;
        results.add(pool.submit(() -> {
          DevIdentity who = users.get(oneConvo ? 0 : idx);
          byte[] g = groups.get(oneConvo ? 0 : idx);
          String convo = HexFormat.of().formatHex(g);
          long[] lat = new long[MAX_REQUESTS / senders + 1];
          int n = 0;
          while (System.nanoTime() < deadline && issued.incrementAndGet() <= MAX_REQUESTS && n < lat.length) {
            byte[] ct = privateMessage(g, 1024);
            String body = "{\"convoId\":\"" + convo + "\",\"ciphertext\":{\"$bytes\":\""
                + Base64.getEncoder().withoutPadding().encodeToString(ct) + "\"}}";
            long t0 = System.nanoTime();
            int status = post(http, base, "sendMessage", who.token(aud, "blue.catbird.mls.sendMessage"), body);
            if (status != 200) {
              throw new IllegalStateException("sendMessage answered " + status);
            }
            lat[n++] = System.nanoTime() - t0;
          }
          return java.util.Arrays.copyOf(lat, n);
        }));
      }
      List<Long> all = new ArrayList<>();
      for (Future<long[]> f : results) {
        for (long v : f.get()) {
          all.add(v);
        }
      }
      double elapsed = (System.nanoTime() - start) / 1e9;
      double cpuPerRequest = (SendMessageLoad.processCpuNanos() - cpuStart) / 1e3 / all.size();
      all.sort(null);
      System.out.printf("sendMessage %s, %d senders, %s: %d requests in %.1f s = %.0f req/s; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU %.0f µs/request%n",
          backend, senders, oneConvo ? "one conversation" : senders + " conversations", all.size(), elapsed,
          all.size() / elapsed, pct(all, 0.50), pct(all, 0.99), all.get(all.size() - 1) / 1e6, cpuPerRequest);
    }
  }

  /** CPU time of this whole process (node and load generator: both run here). */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  static double pct(List<Long> sorted, double p) {
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1)) / 1e6;
  }

  static int post(HttpClient http, String base, String method, String token, String body) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(base + method)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200 && !method.equals("sendMessage")) {
      throw new IllegalStateException(method + " answered " + r.statusCode() + ": " + r.body());
    }
    return r.statusCode();
  }

  /**
   * A PrivateMessage for epoch 0 with a 16-byte group id and a {@code size}-byte ciphertext (64..16383),
   * TLS-encoded by hand: the server parses the header only.
   */
  static byte[] privateMessage(byte[] groupId, int size) {
    ByteBuffer b = ByteBuffer.allocate(4 + 1 + groupId.length + 8 + 1 + 1 + 1 + 16 + 2 + size);
    b.putShort((short) 1).putShort((short) WireFormat.MLS_PRIVATE_MESSAGE.value());
    b.put((byte) groupId.length).put(groupId).putLong(0).put((byte) ContentType.APPLICATION.value());
    b.put((byte) 0); // authenticated_data<V>: empty
    b.put((byte) 16).put(new byte[16]); // encrypted_sender_data<V>
    b.putShort((short) (0x4000 | size)).put(new byte[size]); // ciphertext<V>, 2-byte varint length
    return b.array();
  }
}
