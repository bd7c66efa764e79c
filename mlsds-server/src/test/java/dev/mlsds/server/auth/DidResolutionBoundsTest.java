package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Config;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.testing.MutableClock;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Review finding M3: forged tokens cannot make the node fetch DID documents without bound. */
class DidResolutionBoundsTest {
  static final String NSID = "blue.catbird.mls.getConvos";
  final MutableClock clock = new MutableClock(Instant.now());
  FakeDirectory directory;
  Database db;
  DidResolver resolver;
  ServiceAuthenticator auth;

  @BeforeEach
  void start() {
    directory = new FakeDirectory();
    db = Database.open(TestDatabases.sqlite(), null);
    db.migrate();
    Config c = TestServers.config("jdbc:sqlite::memory:");
    Config config = new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(), false,
        directory.url(), List.of(), null, c.limits()).withBounds(c.bounds().withDid(4, 20, 10));
    resolver = new DidResolver(config, DidResolver.DEFAULT_TTL, DidResolver.DEFAULT_TIMEOUT, Duration.ZERO);
    auth = new ServiceAuthenticator(config, clock, resolver, new JtiStore(db, clock));
  }

  @AfterEach
  void stop() {
    directory.close();
    db.close();
  }

  private String forged() {
    DevIdentity nobody = DevIdentity.generate(KeyType.P256).as(FakeDirectory.randomPlcDid());
    return nobody.token(Config.DEFAULT_SERVICE_DID, NSID, clock.instant());
  }

  private Object attempt(String token, String address) {
    try {
      return auth.authenticate("Bearer " + token, NSID, true, address, caller -> { });
    } catch (XrpcException e) {
      return e.error();
    }
  }

  @Test
  @DisplayName("M3: 200 concurrent forged tokens from one address cost at most its budget of fetches, at most 4 at once")
  void forgedTokensAreBounded() throws Exception {
    directory.slowNotFound(100);
    List<Future<Object>> results = new ArrayList<>();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 200; i++) {
        String token = forged();
        results.add(pool.submit(() -> attempt(token, "203.0.113.7")));
      }
      for (Future<Object> f : results) {
        assertThat(f.get()).isIn(XrpcError.InvalidToken, XrpcError.RateLimitExceeded, XrpcError.Unavailable);
      }
    }
    assertThat(directory.requests()).as("fetches").isLessThanOrEqualTo(20);
    assertThat(directory.maxInFlight()).as("fetches at once").isLessThanOrEqualTo(4);
    assertThat(attempt(forged(), "203.0.113.7")).isEqualTo(XrpcError.RateLimitExceeded);

    // Another address, a real user: unaffected.
    DevIdentity alice = DevIdentity.generate(KeyType.P256).as(FakeDirectory.randomPlcDid());
    directory.publish(alice.did(), alice.publicKey());
    assertThat(attempt(alice.token(Config.DEFAULT_SERVICE_DID, NSID, clock.instant()), "198.51.100.1"))
        .isEqualTo(alice.did());
  }

  @Test
  @DisplayName("M3: unresolvable DIDs live in their own small cache and never evict a real user's key")
  void negativeCacheIsSeparate() {
    DevIdentity alice = DevIdentity.generate(KeyType.P256).as(FakeDirectory.randomPlcDid());
    directory.publish(alice.did(), alice.publicKey());
    assertThat(attempt(alice.token(Config.DEFAULT_SERVICE_DID, NSID, clock.instant()), "198.51.100.1"))
        .isEqualTo(alice.did());
    int before = directory.requests();
    for (int i = 0; i < 200; i++) {
      assertThat(attempt(forged(), "192.0.2." + (i % 250))).isEqualTo(XrpcError.InvalidToken);
    }
    assertThat(directory.requests() - before).isEqualTo(200);
    assertThat(resolver.isCached(alice.did())).isTrue();
    assertThat(attempt(alice.token(Config.DEFAULT_SERVICE_DID, NSID, clock.instant()), "198.51.100.1"))
        .isEqualTo(alice.did());
    assertThat(directory.requests() - before).as("no fetch for the real user").isEqualTo(200);
  }
}
