package dev.mlsds.server.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import org.junit.jupiter.api.Test;

/** Health tells the truth when PostgreSQL goes away under a running node. */
class DatabaseDownIT {
  @Test
  void healthIsUnhealthy503AndNotReadyWhenTheDatabaseDisappears() {
    TestDatabases.Postgres pg = TestDatabases.postgres();
    Server server = TestServers.start(pg.url());
    try {
      Http http = new Http(server.port());
      assertThat(http.get("/health", null).status()).isEqualTo(200);
      pg.close(); // DROP DATABASE … WITH (FORCE): kills the pool's connections and the database
      var r = http.get("/health", null);
      assertThat(r.status()).isEqualTo(503);
      assertThat(r.json().get("status").asText()).isEqualTo("unhealthy");
      assertThat(r.json().get("checks").get("database").asText()).isEqualTo("unhealthy");
      assertThat(http.get("/health/ready", null).status()).isEqualTo(503);
      assertThat(http.get("/health/live", null).status()).isEqualTo(200);
    } finally {
      server.stop();
      pg.close();
    }
  }
}
