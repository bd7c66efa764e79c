package dev.mlsds.benchmarks.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The short form of the fault suite (docs/RELIABILITY.md; the long form is {@code benchmarks/faults}): real
 * server processes from the shaded jar, SIGKILLed under load (2 runs on SQLite, 2 on PostgreSQL with two
 * nodes, one of them killed), a private PostgreSQL cluster crashed twice under load, and, when the test runs
 * as root (it mounts a tmpfs), a full SQLite volume. Every check of the long form applies; a failure lists the
 * violated invariants.
 */
class FaultsIT {
  static String jar;

  @BeforeAll
  static void jar() {
    jar = System.getProperty("mlsds.faults.jar", "target/benchmarks.jar");
    assertThat(Path.of(jar)).as("the shaded jar (mvn package)").exists();
  }

  static void assertClean(Map<String, Object> figures) {
    assertThat((List<?>) figures.get("violations")).as(figures.toString()).isEmpty();
  }

  @Test
  @DisplayName("kill -9 on SQLite, 2 runs: nothing acknowledged lost or doubled, seq gap-free, one Commit per epoch, no KeyPackage handed out twice, Welcomes kept, retries get the committed result")
  void killSqlite() throws Exception {
    Map<String, Object> f = new KillSuite(new KillSuite.Options("sqlite", 2, 1, 2, System.nanoTime(), 20), jar).run();
    assertClean(f);
    assertThat(f.get("runs")).isEqualTo(2);
    assertThat(f.get("lost")).isEqualTo(0L);
    assertThat(f.get("duplicated")).isEqualTo(0L);
  }

  @Test
  @DisplayName("kill -9 of one of two nodes on PostgreSQL, 2 runs: the same invariants, clients failing over to the other node")
  void killPostgresTwoNodes() throws Exception {
    Map<String, Object> f = new KillSuite(new KillSuite.Options("postgres", 2, 2, 2, System.nanoTime(), 20), jar)
        .run();
    assertClean(f);
    assertThat(f.get("runs")).isEqualTo(2);
  }

  @Test
  @DisplayName("PostgreSQL crashed (pg_ctl stop -m immediate) twice under load for 8 s: 503 while away, 200 again by itself, nothing lost, the stream gets every message once")
  void postgresRestart() throws Exception {
    assumeTrue(PrivatePg.available(), "initdb/pg_ctl not installed (/usr/lib/postgresql/*/bin or PATH)");
    // Down longer than the pool's 5 s connection timeout: a request waits that long for a connection and
    // then gets 503. A shorter outage is ridden out (on a quiet machine every request of a 1 s outage was
    // answered 200 after the wait, which is right, but then the 503 path is not exercised).
    Map<String, Object> f = new PgRestart(new PgRestart.Options(2, 8000, 3), jar).run();
    assertClean(f);
    assertThat(f.get("restarts")).isEqualTo(2);
    assertThat(f.get("http500")).isEqualTo(0L);
    assertThat(f.get("http503")).as("503s while PostgreSQL was away").isNotEqualTo(0L);
  }

  @Test
  @DisplayName("a full SQLite volume (a 16 MiB tmpfs): 503 with Retry-After, reads go on, writes recover when space returns")
  void diskFullSqlite() throws Exception {
    assumeTrue(DiskFull.canMount(), "mounting a tmpfs needs root (and a container that allows mount)");
    Map<String, Object> f = new DiskFull("sqlite", jar).run();
    assertClean(f);
    assertThat(f.get("lost")).isEqualTo(0L);
  }
}
