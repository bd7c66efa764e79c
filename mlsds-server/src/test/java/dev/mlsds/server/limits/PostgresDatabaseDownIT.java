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
 * Review finding M2 on PostgreSQL: the database goes away under a running node (its connections are
 * terminated and new ones refused), then comes back.
 */
class PostgresDatabaseDownIT {
  @Test
  @DisplayName("M2: PostgreSQL down is 503 with Retry-After (never 500), readiness says so, nothing acknowledged is lost, and the node recovers without a restart")
  void databaseDown() throws Exception {
    try (TestDatabases.Postgres pg = TestDatabases.postgres();
        Server server = TestServers.start(pg.url(), c -> c, Clock.systemUTC());
        Connection admin = DriverManager.getConnection(TestDatabases.adminUrl())) {
      DatabaseFaultsFixture f = new DatabaseFaultsFixture(server);
      for (int i = 0; i < 3; i++) {
        assertThat(f.send(1000).status()).isEqualTo(200);
      }
      try (Statement s = admin.createStatement()) {
        s.execute("ALTER DATABASE " + pg.name() + " ALLOW_CONNECTIONS false");
        s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + pg.name() + "'");
      }
      try {
        DatabaseFaultsFixture.assertUnavailable(f.send(1000));
        Http.Response read = f.alice.get("getMessages", "convoId", f.convoId());
        DatabaseFaultsFixture.assertUnavailable(read);
        assertThat(f.health("/health/ready").status()).isEqualTo(503);
        assertThat(f.health("/health").status()).isEqualTo(503);
      } finally {
        try (Statement s = admin.createStatement()) {
          s.execute("ALTER DATABASE " + pg.name() + " ALLOW_CONNECTIONS true");
        }
      }
      Http.Response r = f.send(1000);
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(f.storedSeqs()).containsExactly(1L, 2L, 3L, 4L);
      assertThat(f.health("/health/ready").status()).isEqualTo(200);
    }
  }
}
