package dev.mlsds.benchmarks.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The short HTTP fuzzing run of the normal suite (docs/RELIABILITY.md): a real node in its own process on each
 * backend, lexicon-driven valid and mutated requests ({@code -Dmlsds.fuzz.requests}, default 5,000 per backend),
 * then no 5xx, nothing over the deadline, no dropped connection, the node still ready, the database invariants
 * intact. A failure names the seed (replay with {@code benchmarks/run fuzz --seed}) and leaves every failing
 * request, byte for byte, and the server log under {@code benchmarks/target/fuzz}.
 */
class HttpFuzzIT {
  static final long REQUESTS = Long.getLong("mlsds.fuzz.requests", 5_000);

  static HttpFuzz.Options options(String backend) {
    HttpFuzz.Options d = HttpFuzz.Options.defaults(backend, REQUESTS);
    return new HttpFuzz.Options(backend, REQUESTS, 8, Long.getLong("mlsds.fuzz.seed", d.seed()), 10_000, 8, 16,
        Path.of(System.getProperty("mlsds.fuzz.out", "target/fuzz")),
        Path.of(System.getProperty("mlsds.fuzz.lexicons", "../lexicons/blue/catbird/mls")),
        System.getProperty("mlsds.fuzz.classpath", d.classpath()), d.pgAdminUrl(), "-Xmx512m");
  }

  static void check(HttpFuzz.Result r) {
    assertThat(r.status5xx()).as("5xx (seed %d): %s", r.seed(), r.json()).isZero();
    assertThat(r.overDeadline()).as("over the deadline (seed %d)", r.seed()).isZero();
    assertThat(r.connectionErrors()).as("connections dropped without a response (seed %d)", r.seed()).isZero();
    assertThat(r.violations()).as("database invariants (seed %d)", r.seed()).isEmpty();
    assertThat(r.serverReady()).as("node ready afterwards").isTrue();
    assertThat(r.byStatus().getOrDefault("200", 0L)).as("some calls succeed: the requests reach the handlers")
        .isGreaterThan(REQUESTS / 50);
  }

  @Test
  void sqlite() throws Exception {
    check(new HttpFuzz(options("sqlite")).run());
  }

  @Test
  void postgres() throws Exception {
    check(new HttpFuzz(options("postgres")).run());
  }
}
