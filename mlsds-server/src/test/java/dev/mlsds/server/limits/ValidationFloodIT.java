package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.CodecLimits;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.server.xrpc.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Review finding H2 end to end: a flood of the most expensive KeyPackage uploads the codec still lets
 * reach signature checks (P-521, every list at its cap, about 62 KB, a KeyPackage signature that fails
 * only at the last rule, 100 per request) from several callers at once, while a prober measures
 * {@code /health/live}. Validation runs on the bounded pool, so the probes keep a carrier thread.
 */
class ValidationFloodIT {
  private static final CipherSuite P521 = CipherSuite.MLS_256_DHKEMP521_AES256GCM_SHA512_P521;
  private static final Duration FLOOD = Duration.ofSeconds(8);

  @Test
  @DisplayName("H2: 8 callers flooding worst-case KeyPackage uploads keep /health/live answering (p99 printed; regression bound 1 s on the p90)")
  void healthStaysLiveUnderAValidationFlood() throws Exception {
    try (Server server = TestServers.start(TestDatabases.sqlite(),
        c -> c.withBounds(c.bounds().withValidationThreads(1)), Clock.systemUTC())) {
      List<TestUser> attackers = new ArrayList<>();
      List<String> bodies = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        TestUser u = TestUser.on(server);
        attackers.add(u);
        String kp = worstCase(u.did().value());
        List<Map<String, Object>> items = new ArrayList<>();
        for (int k = 0; k < 100; k++) {
          items.add(Map.of("keyPackage", Map.of("$bytes", kp)));
        }
        bodies.add(Json.write(Map.of("keyPackages", items)));
      }
      Http http = new Http(server.port());
      HttpClient client = HttpClient.newHttpClient();
      HttpRequest live = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health/live"))
          .timeout(Duration.ofSeconds(30)).build();
      probe(client, live, Duration.ofSeconds(1)); // warm-up
      List<Long> baseline = probe(client, live, Duration.ofSeconds(3));
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger rejectedItems = new AtomicInteger();
      AtomicInteger other = new AtomicInteger();
      List<Thread> flood = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        TestUser u = attackers.get(t % 2);
        String body = bodies.get(t % 2);
        flood.add(Thread.ofPlatform().start(() -> {
          while (!stop.get()) {
            Http.Response r = http.post("/xrpc/" + TestUser.NS + "publishKeyPackages",
                u.token("publishKeyPackages"), body);
            if (r.status() == 200) {
              r.json().get("results").forEach(item -> {
                if (item.get("message").asText().startsWith("key_package_signature")) {
                  rejectedItems.incrementAndGet();
                }
              });
            } else {
              other.incrementAndGet();
            }
          }
        }));
      }
      Thread.sleep(500); // let the flood reach the pool
      List<Long> millis = probe(client, live, FLOOD);
      stop.set(true);
      for (Thread t : flood) {
        t.join();
      }
      System.out.printf("ValidationFloodIT: /health/live idle p50 %d ms, p99 %d ms; under the flood %d probes,"
              + " p50 %d ms, p99 %d ms, max %d ms; %d worst-case KeyPackages rejected at the last rule,"
              + " %d other responses%n", percentile(baseline, 50), percentile(baseline, 99), millis.size(),
          percentile(millis, 50), percentile(millis, 99), percentile(millis, 100), rejectedItems.get(), other.get());
      assertThat(rejectedItems.get()).as("the flood really validated").isGreaterThan(100);
      // The figure to report is the printed p99 (about 50 ms on a quiet 2-core machine, goal 100 ms). The
      // assertion is a regression bound with room for a loaded CI box: before the pool, the flood added 14 s
      // to every probe; with validation off the request threads it can only add scheduling noise. It bounds
      // the 90th percentile: of ~40-300 probes the p99 is the one slowest, which on a machine shared with
      // other builds is one scheduling hiccup (3.1 s seen once at load 30, with the p50 at 18 ms).
      assertThat(percentile(millis, 90)).as("/health/live p90 in ms under the flood")
          .isLessThan(1_000 + percentile(baseline, 99));
    }
  }

  private static List<Long> probe(HttpClient client, HttpRequest live, Duration duration) throws Exception {
    List<Long> millis = new ArrayList<>();
    long end = System.nanoTime() + duration.toNanos();
    while (System.nanoTime() < end) {
      long start = System.nanoTime();
      HttpResponse<String> r = client.send(live, HttpResponse.BodyHandlers.ofString());
      millis.add((System.nanoTime() - start) / 1_000_000);
      assertThat(r.statusCode()).isEqualTo(200);
      Thread.sleep(20);
    }
    Collections.sort(millis);
    return millis;
  }

  private static long percentile(List<Long> sorted, int p) {
    return sorted.get(Math.max(0, (int) Math.ceil(sorted.size() * p / 100.0) - 1));
  }

  /** A P-521 KeyPackage with every list at its cap whose KeyPackage signature fails, base64. */
  private static String worstCase(String did) {
    TestKeyPackages.Builder b = TestKeyPackages.builder(P521, did);
    for (int i = 0; i < CodecLimits.EXTENSIONS; i++) {
      b.leafExtension(0x1000 + i, new byte[1800], true);
    }
    for (int i = 0; i < CodecLimits.CAPABILITY_ENTRIES - CodecLimits.EXTENSIONS; i++) {
      b.capabilityExtension(0x2000 + i);
    }
    byte[] kp = b.build();
    kp[kp.length - 1] ^= 1;
    return java.util.Base64.getEncoder().encodeToString(kp);
  }
}
