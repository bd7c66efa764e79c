package dev.mlsds.server.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Start-up runs the migrations alongside Jetty: while they run the node listens, answers /health/live, and
 * refuses everything else with 503 Unavailable (never a 500 from a missing table); start() returns once they
 * are applied, and the node is ready.
 */
class StartupWhileMigratingTest {
  @Test
  void requestsAre503UntilTheMigrationsAreApplied() throws Exception {
    String url = TestDatabases.sqlite();
    Server server = null;
    // Another connection holds SQLite's write lock (WAL mode, as the server's, so the pool can still open and
    // read), so Flyway's first write waits (busy timeout 10 s) until it lets go.
    try (Connection holder = DriverManager.getConnection(url); Statement st = holder.createStatement()) {
      st.execute("PRAGMA journal_mode=WAL");
      st.execute("BEGIN EXCLUSIVE");
      server = Wiring.build(TestServers.config(url), Clock.systemUTC());
      Server s = server;
      CompletableFuture<Server> started = CompletableFuture.supplyAsync(s::start);
      int port = -1;
      for (int i = 0; i < 500 && port <= 0; i++) { // at most 5 s for Jetty to listen
        try {
          port = s.port();
        } catch (IllegalStateException notYet) {
          // not listening yet
        }
        if (port <= 0) {
          Thread.sleep(10);
        }
      }
      assertThat(port).as("Jetty listens while the migrations wait").isPositive();
      Http http = new Http(port);
      assertThat(http.get("/health/live", null).status()).isEqualTo(200);
      Http.Response ready = http.get("/health/ready", null);
      assertThat(ready.status()).isEqualTo(503);
      Http.Response call = http.get("/xrpc/blue.catbird.mls.getConvos", null);
      assertThat(call.status()).isEqualTo(503);
      assertThat(call.error()).isEqualTo("Unavailable");
      assertThat(call.body()).contains("starting");
      assertThat(started).isNotDone();
      st.execute("ROLLBACK");
      started.get(30, TimeUnit.SECONDS);
      assertThat(http.get("/health/ready", null).status()).isEqualTo(200);
      assertThat(http.get("/xrpc/blue.catbird.mls.getConvos", null).error()).isEqualTo("AuthenticationRequired");
    } finally {
      if (server != null) {
        server.stop();
      }
    }
  }
}
