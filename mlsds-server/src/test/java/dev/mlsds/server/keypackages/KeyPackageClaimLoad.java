package dev.mlsds.server.keypackages;

import static dev.mlsds.server.testing.TestUser.bytes;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.auth.KeyType;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.xrpc.Json;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A bounded loopback benchmark of getKeyPackages claims (not a test: it asserts nothing and runs only when
 * asked). One node in this JVM on a fresh SQLite file or PostgreSQL database; {@value #TARGETS} users publish
 * {@value #PER_TARGET} one-time KeyPackages each over HTTP; then {@code CLIENTS} (default 8) virtual threads claim,
 * one DID per request, for at most {@code SECONDS} (default 10) s or until the inventory is gone:
 *
 * <ol>
 *   <li><b>http</b>: {@code GET getKeyPackages} over loopback with a fresh ES256 service token per request
 *       (signed before the timed phase), so the figure includes auth, the jti replay insert and JSON;</li>
 *   <li><b>service</b>: {@link KeyPackageService#claim} in-process on the same database (the claim
 *       transaction alone).</li>
 * </ol>
 *
 * <pre>
 * mvn -q -pl mlsds-server test -Dtest=KeyPackageClaimLoad -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dmlsds.bench=sqlite      # or postgres; -Dmlsds.bench.clients=8 -Dmlsds.bench.seconds=10
 * </pre>
 *
 * Figures are printed and appended to {@code target/keypackage-claims.txt}. Rate limits are switched off
 * for the run; only 127.0.0.1 is ever a target.
 */
@EnabledIfSystemProperty(named = "mlsds.bench", matches = "sqlite|postgres")
class KeyPackageClaimLoad {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final int TARGETS = 100;
  static final int PER_TARGET = 100;
  static final int CLIENTS = Integer.getInteger("mlsds.bench.clients", 8);
  static final int SECONDS = Integer.getInteger("mlsds.bench.seconds", 10);

  @Test
  void claimsPerSecond() throws Exception {
    String backend = System.getProperty("mlsds.bench");
    TestDatabases.Postgres pg = backend.equals("postgres") ? TestDatabases.postgres() : null;
    String url = pg != null ? pg.url() : TestDatabases.sqlite();
    Config.Limits d = Config.Limits.defaults();
    // Rate limits off (0), everything else at its default.
    Config.Limits limits = new Config.Limits(d.keyPackageMaxBytes(), d.keyPackagesPerPublish(),
        d.availableKeyPackagesPerDevice(), d.keyPackageMaxLifetime(), d.reservationLease(), d.didsPerGetKeyPackages(),
        d.membersPerConvo(), d.messageMaxBytes(), d.requestMaxBytes(), d.applicationEpochWindow(), d.welcomeGrace(),
        d.tokenMaxLifetime(), d.keyPackageLowThreshold(), 0, 0, 0);
    Server server = TestServers.start(url, c -> KeyPackageHttpTest.withLimits(c, limits), Clock.systemUTC());
    try {
      Http http = new Http(server.port());
      String aud = server.config().serviceDid();
      List<Did> targets = publishInventory(http, aud);
      String http1 = httpRun(server.port(), aud, targets);
      List<Did> more = publishInventory(http, aud);
      String service = serviceRun(server, more, limits);
      String line = "%s %s | %s | %s%n".formatted(Instant.now(), backend, http1, service);
      System.out.print("getKeyPackages claims: " + line);
      Files.writeString(Path.of("target/keypackage-claims.txt"), line, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } finally {
      server.stop();
      if (pg != null) {
        pg.close();
      }
    }
  }

  /** {@value #TARGETS} users, each publishing {@value #PER_TARGET} KeyPackages from one device in one call. */
  static List<Did> publishInventory(Http http, String aud) {
    List<Did> targets = new ArrayList<>();
    for (int t = 0; t < TARGETS; t++) {
      DevIdentity user = DevIdentity.generate(KeyType.P256);
      SigningKey device = SigningKey.generate(SUITE);
      List<Map<String, Object>> uploads = new ArrayList<>();
      Instant now = Instant.now();
      for (int i = 0; i < PER_TARGET; i++) {
        uploads.add(Map.of("keyPackage", bytes(TestKeyPackages.builder(SUITE, user.did().value()).signingKey(device)
            .lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(30))).build())));
      }
      Http.Response r = http.post("/xrpc/" + PublishKeyPackages.NSID, user.token(aud, PublishKeyPackages.NSID),
          Json.write(Map.of("keyPackages", uploads)));
      if (r.status() != 200) {
        throw new IllegalStateException("publish failed: " + r.body());
      }
      targets.add(user.did());
    }
    return targets;
  }

  record Sample(long nanos, boolean claimed) {}

  static String httpRun(int port, String aud, List<Did> targets) throws Exception {
    // A bare client: the test Http client also checks every response against its lexicon, which would
    // spend the benchmark's CPU on the client side.
    HttpClient client = HttpClient.newHttpClient();
    int max = TARGETS * PER_TARGET;
    List<DevIdentity> clients = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      clients.add(DevIdentity.generate(KeyType.P256));
    }
    // Tokens are signed up front (fresh jti each) so the timed phase measures the server, not the client.
    String[] tokens = new String[max];
    String[] paths = new String[max];
    for (int i = 0; i < max; i++) {
      tokens[i] = clients.get(i % CLIENTS).token(aud, GetKeyPackages.NSID);
      paths[i] = "http://127.0.0.1:" + port + "/xrpc/" + GetKeyPackages.NSID + "?dids="
          + targets.get(i % targets.size()).value();
    }
    AtomicInteger next = new AtomicInteger();
    return timed("http", max, () -> {
      int i = next.getAndIncrement();
      if (i >= max) {
        return null;
      }
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(paths[i]))
          .header("Authorization", "Bearer " + tokens[i]).GET().build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("claim failed: " + r.body());
      }
      return r.body().contains("\"keyPackageRef\"");
    });
  }

  static String serviceRun(Server server, List<Did> targets, Config.Limits limits) throws Exception {
    KeyPackageMetrics metrics = new KeyPackageMetrics(new SimpleMeterRegistry());
    KeyPackageService service = new KeyPackageService(server.database(),
        new KeyPackageStore(server.database().dialect(), metrics), new WelcomeStore(),
        new ConvoEventLog(server.database().dialect()), Notifier.NONE, limits, Clock.systemUTC(), metrics);
    int max = TARGETS * PER_TARGET;
    AtomicInteger next = new AtomicInteger();
    // -Dmlsds.bench.serialize=true: one in-process fair lock around each claim transaction, to show what
    // queueing writers in the JVM (instead of SQLite's sleeping busy handler) would give.
    ReentrantLock writer = Boolean.getBoolean("mlsds.bench.serialize") ? new ReentrantLock(true) : null;
    return timed(writer == null ? "service" : "service (serialized)", max, () -> {
      int i = next.getAndIncrement();
      if (i >= max) {
        return null;
      }
      Did caller = new Did("did:plc:bench" + (i % CLIENTS));
      GetKeyPackages.Params params = new GetKeyPackages.Params(List.of(targets.get(i % targets.size())), SUITE);
      if (writer == null) {
        return service.claim(caller, params).keyPackages().size() == 1;
      }
      writer.lock();
      try {
        return service.claim(caller, params).keyPackages().size() == 1;
      } finally {
        writer.unlock();
      }
    });
  }

  interface Step {
    /** One claim: true if a one-time KeyPackage came back, null when the run is over. */
    Boolean run() throws Exception;
  }

  static String timed(String name, int max, Step step) throws Exception {
    ConcurrentLinkedQueue<Sample> samples = new ConcurrentLinkedQueue<>();
    AtomicLong misses = new AtomicLong();
    long deadline = System.nanoTime() + Duration.ofSeconds(SECONDS).toNanos();
    long start = System.nanoTime();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        done.add(pool.submit(() -> {
          while (System.nanoTime() < deadline) {
            long t0 = System.nanoTime();
            Boolean claimed = step.run();
            if (claimed == null) {
              return null;
            }
            samples.add(new Sample(System.nanoTime() - t0, claimed));
            if (!claimed) {
              misses.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    long[] nanos = samples.stream().mapToLong(Sample::nanos).sorted().toArray();
    long claims = samples.stream().filter(Sample::claimed).count();
    return "%s: %d claims in %.1f s = %.0f claims/s, p50 %.1f ms, p99 %.1f ms (%d clients, %d without a KeyPackage)"
        .formatted(name, claims, seconds, claims / seconds, pct(nanos, 0.50), pct(nanos, 0.99), CLIENTS, misses.get());
  }

  static double pct(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))] / 1e6;
  }
}
