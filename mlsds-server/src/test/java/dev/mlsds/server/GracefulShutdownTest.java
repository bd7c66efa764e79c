package dev.mlsds.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** In-flight requests finish during shutdown; new ones are refused with 503 Unavailable. */
class GracefulShutdownTest {
  @Test
  void inFlightRequestsFinishAndNewOnesAreRefused() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Server server = new Server(TestServers.config(TestDatabases.sqlite()), Clock.systemUTC(),
        (h, nsid) -> new Did("did:plc:alice"), RateLimiter.UNLIMITED);
    server.router().procedure("test.slow", call -> {
      entered.countDown();
      release.await(10, TimeUnit.SECONDS);
      return Map.of("done", true);
    }).query("test.fast", call -> Map.of("ok", true));
    server.start();
    Http http = new Http(server.port());
    CompletableFuture<Http.Response> slow = CompletableFuture.supplyAsync(() -> http.post("/xrpc/test.slow", "x", "{}"));
    assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Void> stopping = CompletableFuture.runAsync(server::stop);
    Thread.sleep(200); // let stop() start draining
    var refused = http.get("/xrpc/test.fast", "x");
    assertThat(refused.status()).isEqualTo(503);
    assertThat(refused.error()).isEqualTo("Unavailable");
    assertThat(stopping).isNotDone();
    release.countDown();
    var done = slow.get(10, TimeUnit.SECONDS);
    assertThat(done.status()).isEqualTo(200);
    assertThat(done.json().get("done").asBoolean()).isTrue();
    stopping.get(15, TimeUnit.SECONDS);
  }
}
