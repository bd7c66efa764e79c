package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.time.Clock;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class SqliteDurabilityTest {
  private static int synchronous(Server server) {
    return server.database().withHandle(h -> h.createQuery("PRAGMA synchronous").mapTo(Integer.class).one());
  }

  @Test
  @DisplayName("L5: SQLite runs with synchronous=FULL unless MLSDS_SQLITE_SYNCHRONOUS=NORMAL chooses speed over durability")
  void fullByDefault() {
    try (Server server = TestServers.start(TestDatabases.sqlite())) {
      assertThat(synchronous(server)).isEqualTo(2);
    }
    try (Server server = TestServers.start(TestDatabases.sqlite(),
        c -> c.withBounds(c.bounds().withSqliteSynchronous("NORMAL")), Clock.systemUTC())) {
      assertThat(synchronous(server)).isEqualTo(1);
    }
  }
}
