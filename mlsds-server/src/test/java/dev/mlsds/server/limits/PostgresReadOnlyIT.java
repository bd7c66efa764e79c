package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Review finding M2 on PostgreSQL: the database still answers but refuses writes (read-only, as during a
 * failover or with a full disk). Writes get 503, reads keep working without their replay record.
 */
class PostgresReadOnlyIT {
  private static void readOnly(Connection admin, String db, boolean on) throws Exception {
    try (Statement s = admin.createStatement()) {
      s.execute("ALTER DATABASE " + db + " SET default_transaction_read_only = " + on);
      // the pool's connections are replaced and pick up the setting
      s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'");
    }
  }

  @Test
  @DisplayName("M2: a read-only PostgreSQL gives 503 with Retry-After for writes while reads go on, readiness says so, and writes resume without a restart")
  void readOnlyDatabase() throws Exception {
    try (TestDatabases.Postgres pg = TestDatabases.postgres();
        Server server = TestServers.start(pg.url(), c -> c, Clock.systemUTC());
        Connection admin = DriverManager.getConnection(TestDatabases.adminUrl())) {
      DatabaseFaultsFixture f = new DatabaseFaultsFixture(server);
      assertThat(f.send(1000).status()).isEqualTo(200);
      readOnly(admin, pg.name(), true);
      try {
        Http.Response write = f.send(1000);
        for (int i = 0; i < 3 && write.status() != 503; i++) {
          write = f.send(1000); // a connection killed under a request may answer once more with 503 anyway
        }
        DatabaseFaultsFixture.assertUnavailable(write);
        assertThat(f.storedSeqs()).containsExactlyElementsOf(f.acknowledged);
        Http.Response ready = f.health("/health/ready");
        assertThat(ready.status()).isEqualTo(503);
        assertThat(ready.json().get("checks").get("storage").asText()).isEqualTo("unwritable");
      } finally {
        readOnly(admin, pg.name(), false);
      }
      // Connections killed by the switch back are found and replaced by the pool as they are borrowed;
      // each may fail one request with 503 first.
      Http.Response r = f.send(1000);
      for (int i = 0; i < 50 && r.status() == 503; i++) {
        Thread.sleep(200);
        r = f.send(1000);
      }
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(f.storedSeqs()).containsExactlyElementsOf(f.acknowledged);
      assertThat(f.health("/health/ready").status()).isEqualTo(200);
    }
  }
}
