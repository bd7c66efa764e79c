package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Clock;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Review finding M2 on SQLite: a full disk. The node's connections may grow the file to a fixed number of
 * pages ({@code max_page_count}), which SQLite reports exactly as a full disk ({@code SQLITE_FULL}); an
 * operator's "freeing space" is another connection dropping a ballast table, whose pages the node can
 * then reuse. Run by hand on a real 24 MB tmpfs, the same flow gave the same answers (39 acknowledged
 * 500 KB messages, then 503 with {@code Retry-After: 5}, all 39 readable, {@code storage: unwritable},
 * the next send accepted once a file on the volume was deleted); this form needs no mount.
 */
class SqliteDiskFullTest {
  @Test
  @DisplayName("M2: disk full on SQLite is 503 with Retry-After (never 500), reads go on, readiness says so, and writes recover without a restart")
  void diskFull() throws Exception {
    String url = TestDatabases.sqlite();
    try (Server server = TestServers.start(url + "?max_page_count=1000",
            c -> c.withBounds(c.bounds().withMinFreeDiskBytes(300_000)), Clock.systemUTC());
        Connection operator = DriverManager.getConnection(url)) {
      DatabaseFaultsFixture f = new DatabaseFaultsFixture(server);
      try (Statement s = operator.createStatement()) {
        s.execute("CREATE TABLE ballast (b BLOB)");
      }
      try (PreparedStatement p = operator.prepareStatement("INSERT INTO ballast VALUES (?)")) {
        p.setBytes(1, new byte[1024 * 1024]);
        p.execute();
      }
      assertThat(f.health("/health/ready").status()).isEqualTo(200);
      Http.Response r;
      int sent = 0;
      while ((r = f.send(100_000)).status() == 200) {
        assertThat(++sent).as("the page limit was reached").isLessThan(100);
      }
      DatabaseFaultsFixture.assertUnavailable(r);
      DatabaseFaultsFixture.assertUnavailable(f.send(100_000));
      assertThat(f.acknowledged).isNotEmpty();
      // Reads need no write: the log, with every acknowledged message.
      assertThat(f.storedSeqs()).containsExactlyElementsOf(f.acknowledged);
      Http.Response ready = f.health("/health/ready");
      assertThat(ready.status()).isEqualTo(503);
      assertThat(ready.json().get("checks").get("storage").asText()).isEqualTo("low-disk");
      Http.Response health = f.health("/health");
      assertThat(health.json().get("status").asText()).isEqualTo("degraded");

      try (Statement s = operator.createStatement()) {
        s.execute("DROP TABLE ballast");
      }
      r = f.send(100_000);
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(f.storedSeqs()).containsExactlyElementsOf(f.acknowledged);
      assertThat(f.acknowledged.get(f.acknowledged.size() - 1)).isEqualTo(f.acknowledged.size());
      assertThat(f.health("/health/ready").status()).isEqualTo(200);
    }
  }
}
