package dev.mlsds.benchmarks.auth;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.auth.JtiStore;
import dev.mlsds.server.storage.Database;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-request database cost of single-use {@code jti}s: one {@link JtiStore#firstUse} (an
 * {@code INSERT … ON CONFLICT}) with a new jti each call, on the embedded SQLite backend.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class JtiStoreBenchmark {
  private static final Did ISSUER = new Did("did:plc:abcdefghijklmnopqrstuvwx");
  private Database db;
  private JtiStore store;
  private long next;
  private long exp;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    db = Database.open("jdbc:sqlite:" + Files.createTempDirectory("mlsds-bench-").resolve("bench.db"), null);
    db.migrate();
    store = new JtiStore(db, Clock.systemUTC());
    exp = Clock.systemUTC().instant().getEpochSecond() + 60;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    db.close();
  }

  @Benchmark
  public boolean firstUseSqlite() {
    return store.firstUse(ISSUER, Long.toString(next++), exp);
  }
}
