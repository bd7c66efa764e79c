package dev.mlsds.benchmarks.load;

import dev.mlsds.server.Server;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded loopback load test of {@code getMessages}: one node in this process, one conversation holding
 * {@code messages} 1 KiB PrivateMessages, then {@code readers} virtual threads each reading pages of 100
 * from a random {@code sinceSeq} over HTTP with real service tokens.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.mlsds.benchmarks.load.GetMessagesLoad \
 *     sqlite|postgres [readers=16] [seconds=15] [messages=2000]
 * </pre>
 *
 * Prints throughput, p50/p99/max latency and the bytes read. Stops after {@code seconds} or 200,000
 * requests, whichever comes first; only 127.0.0.1 is ever a target.
 */
public final class GetMessagesLoad {
  public static void main(String[] args) throws Exception {
    String backend = args.length > 0 ? args[0] : "sqlite";
    int readers = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 15;
    int messages = args.length > 3 ? Integer.parseInt(args[3]) : 2000;
    SendMessageLoad.withServer(backend, server -> run(server, readers, seconds, messages, backend));
  }

  static void run(Server server, int readers, int seconds, int messages, String backend) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    String base = "http://127.0.0.1:" + server.port() + "/xrpc/blue.catbird.mls.";
    String aud = server.config().serviceDid();
    DevIdentity user = DevIdentity.generate(KeyType.P256);
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    String convo = HexFormat.of().formatHex(g);
    SendMessageLoad.post(http, base, "createConvo", user.token(aud, "blue.catbird.mls.createConvo"),
        "{\"groupId\":\"" + convo + "\",\"cipherSuite\":\"MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519\"}");
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> seeding = new ArrayList<>();
      for (int w = 0; w < 8; w++) {
        int first = w;
        seeding.add(pool.submit(() -> {
          for (int i = first; i < messages; i += 8) {
            String body = "{\"convoId\":\"" + convo + "\",\"ciphertext\":{\"$bytes\":\""
                + Base64.getEncoder().withoutPadding().encodeToString(SendMessageLoad.privateMessage(g, 1024)) + "\"}}";
            int s = SendMessageLoad.post(http, base, "sendMessage", user.token(aud, "blue.catbird.mls.sendMessage"), body);
            if (s != 200) {
              throw new IllegalStateException("sendMessage answered " + s);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : seeding) {
        f.get();
      }
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    AtomicLong issued = new AtomicLong();
    AtomicLong bytes = new AtomicLong();
    List<Future<long[]>> results = new ArrayList<>();
    long start = System.nanoTime();
    long cpuStart = SendMessageLoad.processCpuNanos();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int r = 0; r < readers; r++) {
        results.add(pool.submit(() -> {
          long[] lat = new long[SendMessageLoad.MAX_REQUESTS / readers + 1];
          int n = 0;
          while (System.nanoTime() < deadline && issued.incrementAndGet() <= SendMessageLoad.MAX_REQUESTS && n < lat.length) {
            long since = ThreadLocalRandom.current().nextLong(Math.max(1, messages - 100));
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + "getMessages?convoId=" + convo + "&sinceSeq="
                    + since + "&limit=100")).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + user.token(aud, "blue.catbird.mls.getMessages")).GET().build();
            long t0 = System.nanoTime();
            HttpResponse<byte[]> resp = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
            if (resp.statusCode() != 200) {
              throw new IllegalStateException("getMessages answered " + resp.statusCode());
            }
            lat[n++] = System.nanoTime() - t0;
            bytes.addAndGet(resp.body().length);
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
      System.out.printf("getMessages %s, %d readers, pages of 100 x 1 KiB: %d requests in %.1f s = %.0f req/s (%.1f MB/s);"
              + " latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU %.0f µs/request%n",
          backend, readers, all.size(), elapsed, all.size() / elapsed, bytes.get() / elapsed / 1e6,
          SendMessageLoad.pct(all, 0.50), SendMessageLoad.pct(all, 0.99), all.get(all.size() - 1) / 1e6, cpuPerRequest);
    }
  }
}
