package dev.mlsds.server.storage;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import java.util.concurrent.locks.ReentrantLock;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.HandleCallback;
import org.jdbi.v3.core.JdbiException;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.transaction.TransactionIsolationLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection pool, JDBI and migrations for one backend.
 *
 * <p>Contract: every write a request makes runs inside one {@link #inTransaction} call, so it commits or
 * rolls back as a whole. On PostgreSQL transactions run at READ COMMITTED and take explicit row locks
 * where ordering matters (see {@link Dialect#forUpdate()}); on SQLite every transaction begins IMMEDIATE
 * (a single writer at a time, waiting up to the busy timeout), in WAL mode so readers never block.
 */
public final class Database implements AutoCloseable {
  static final int ATTEMPTS = 3;
  private static final Logger log = LoggerFactory.getLogger(Database.class);
  private final ReentrantLock sqliteWriters = new ReentrantLock(true);
  private volatile boolean migrated;
  private CompletableFuture<Integer> migrating; // startMigrating's run, until migrate() takes it
  private final HikariDataSource dataSource;
  private final Jdbi jdbi;
  private final Dialect dialect;
  private final String url;

  private Database(HikariDataSource dataSource, Dialect dialect, String url) {
    this.dataSource = dataSource;
    this.dialect = dialect;
    this.url = url;
    this.jdbi = Jdbi.create(() -> connection(dataSource));
  }

  /**
   * A pooled connection. Once the pool is closed (the node is shutting down and a request outlived the
   * drain) the failure is a transient connection fault, so the request gets 503 {@code Unavailable}, not 500.
   */
  private static Connection connection(HikariDataSource pool) throws SQLException {
    try {
      return pool.getConnection();
    } catch (SQLException e) {
      if (pool.isClosed()) {
        throw new java.sql.SQLTransientConnectionException("the node is shutting down", e);
      }
      throw e;
    }
  }

  /** Opens a pool on {@code jdbcUrl} (creating the SQLite file's folder if needed); does not migrate. */
  public static Database open(String jdbcUrl, MeterRegistry metrics) {
    return open(jdbcUrl, metrics, "FULL");
  }

  /**
   * As {@link #open(String, MeterRegistry)}, with SQLite's {@code synchronous} mode: {@code FULL} (the
   * default: WAL is synced at every commit, so an acknowledged write survives power loss) or
   * {@code NORMAL} (faster; the last commits before a power cut or OS crash may roll back, and their
   * seqs be handed out again). PostgreSQL ignores it.
   */
  public static Database open(String jdbcUrl, MeterRegistry metrics, String sqliteSynchronous) {
    return open(jdbcUrl, metrics, sqliteSynchronous, 0);
  }

  /**
   * As {@link #open(String, MeterRegistry, String)}, with {@code poolSize} connections (0: the default, 16 on
   * PostgreSQL, 8 on SQLite).
   */
  public static Database open(String jdbcUrl, MeterRegistry metrics, String sqliteSynchronous, int poolSize) {
    Dialect dialect = Dialect.forUrl(jdbcUrl);
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("mlsds");
    hc.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
    hc.setValidationTimeout(Duration.ofSeconds(2).toMillis());
    hc.setInitializationFailTimeout(-1); // start even when the database is down; health reports it
    if (dialect == Dialect.SQLITE) {
      String file = jdbcUrl.substring("jdbc:sqlite:".length());
      int q = file.indexOf('?');
      String path = q >= 0 ? file.substring(0, q) : file;
      if (!path.isEmpty() && !path.equals(":memory:")) {
        Path parent = Path.of(path).toAbsolutePath().getParent();
        try {
          Files.createDirectories(parent);
        } catch (java.io.IOException e) {
          throw new IllegalStateException("cannot create data directory " + parent + ": " + e.getMessage(), e);
        }
      }
      hc.setJdbcUrl(jdbcUrl);
      hc.addDataSourceProperty("journal_mode", "WAL");
      hc.addDataSourceProperty("synchronous", sqliteSynchronous);
      hc.addDataSourceProperty("busy_timeout", "10000");
      hc.addDataSourceProperty("foreign_keys", "true");
      hc.addDataSourceProperty("transaction_mode", "IMMEDIATE");
      hc.setMaximumPoolSize(poolSize > 0 ? poolSize : 8);
    } else {
      hc.setMaximumPoolSize(poolSize > 0 ? poolSize : 16);
      Properties props = new Properties();
      props.setProperty("ApplicationName", "mlsds");
      props.setProperty("connectTimeout", "5");
      props.setProperty("socketTimeout", "60");
      // Connections the database refuses while it is down or starting are retried every 100 ms for a while,
      // so the node is back within ~100 ms of its database, not after Hikari's back-off (up to 5 s).
      hc.setDataSource(new PatientPostgresDataSource(jdbcUrl, props));
      // Every pooled connection is READ COMMITTED once, when opened: transactions then set no isolation level
      // of their own. (Setting and restoring it per transaction made JDBI touch a connection PostgreSQL had
      // just dropped in a finally block, whose "Connection is closed" replaced the real 08006 error: the
      // request was a 500 instead of a 503, and the one retry on a fresh connection never ran. The kill
      // suite's pgrestart found it: docs/RELIABILITY.md.)
      hc.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
    }
    if (metrics != null) {
      hc.setMetricRegistry(metrics);
    }
    return new Database(new HikariDataSource(hc), dialect, jdbcUrl);
  }

  /**
   * Applies pending Flyway migrations for this backend; returns how many ran. After {@link #startMigrating},
   * waits for that run instead and returns (or throws) what it did.
   */
  public int migrate() {
    CompletableFuture<Integer> started;
    synchronized (this) {
      started = migrating;
      migrating = null;
    }
    if (started == null) {
      return runMigrations();
    }
    try {
      return started.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  /**
   * Starts {@link #migrate} on a thread of its own, so that start-up builds the rest of the node (and Jetty)
   * while Flyway reads its migrations and applies them; {@link #migrate} then waits for it. Nothing may use
   * the tables before that {@link #migrate} returns (the server calls it before it listens).
   */
  public synchronized void startMigrating() {
    if (migrating != null) {
      return;
    }
    CompletableFuture<Integer> run = new CompletableFuture<>();
    migrating = run;
    Thread.ofPlatform().name("mlsds-migrate").daemon(true).start(() -> {
      try {
        run.complete(runMigrations());
      } catch (Throwable t) {
        run.completeExceptionally(t);
      }
    });
  }

  private int runMigrations() {
    MigrateResult result = Flyway.configure()
        .dataSource(dataSource)
        .locations(dialect.migrationLocation())
        .failOnMissingLocations(true)
        .load()
        .migrate();
    migrated = true; // all applied: readiness need not ask Flyway again
    return result.migrationsExecuted;
  }

  /**
   * True when every migration on the classpath has been applied (readiness). Asking Flyway scans the
   * classpath, so once the answer is yes it is remembered: migrations are never un-applied under a
   * running node, and reachability is {@link #ping()}'s job.
   */
  public boolean migrationsApplied() {
    if (!migrated) {
      var info = Flyway.configure().dataSource(dataSource).locations(dialect.migrationLocation()).load().info();
      migrated = info.pending().length == 0;
    }
    return migrated;
  }

  /**
   * Runs {@code work} in one transaction: commit on return, rollback on any exception.
   *
   * <p>When PostgreSQL aborts the transaction as a deadlock victim or a serialization failure (SQLSTATE
   * 40P01, 40001) it is run again, at most {@value #ATTEMPTS} times in all: the whole transaction rolled
   * back, so repeating it is safe as long as {@code work} touches nothing but the database (every caller's
   * does; notifications are sent after this returns). A connection that PostgreSQL dropped before the
   * transaction's COMMIT (a restart, a failover, a terminated backend) gets the same treatment, once, after
   * the pool's idle connections are replaced. On SQLite, writers take a fair in-process lock
   * first, so they queue in arrival order instead of sleeping in SQLite's busy handler.
   */
  public <R, X extends Exception> R inTransaction(HandleCallback<R, X> callback) throws X {
    return inTransaction(callback, false);
  }

  /**
   * As {@link #inTransaction(HandleCallback)}, for a transaction whose result is the reply of the request
   * that runs it (the object the handler returns, serialized as is): the participants get it inside the
   * transaction, so the idempotency record stores the reply with the work it answers, and a crash right
   * after the COMMIT cannot leave a committed call without its reply (a retry then gets that reply).
   */
  public <R, X extends Exception> R inTransactionReplying(HandleCallback<R, X> callback) throws X {
    return inTransaction(callback, true);
  }

  private <R, X extends Exception> R inTransaction(HandleCallback<R, X> callback, boolean replying) throws X {
    List<Participant> participants = PARTICIPANTS.get();
    HandleCallback<R, X> work = participants == null || participants.isEmpty() ? callback : h -> {
      List<Participant> joined = List.copyOf(participants);
      for (Participant p : joined) {
        if (p.atStart()) {
          p.join(h);
        }
      }
      R result = callback.withHandle(h);
      for (Participant p : joined) {
        if (p.atStart()) {
          continue;
        }
        if (replying) {
          p.join(h, result);
        } else {
          p.join(h);
        }
      }
      return result;
    };
    if (dialect == Dialect.SQLITE) {
      sqliteWriters.lock();
      try {
        return jdbi.inTransaction(TransactionIsolationLevel.READ_COMMITTED, work);
      } finally {
        sqliteWriters.unlock();
      }
    }
    boolean reconnected = false;
    for (int attempt = 1; ; attempt++) {
      boolean[] workDone = {false};
      RuntimeException[] workFailed = {null};
      try {
        return jdbi.inTransaction(h -> {
          R result;
          try {
            result = work.withHandle(h);
          } catch (RuntimeException failure) {
            workFailed[0] = failure;
            throw failure;
          }
          workDone[0] = true;
          return result;
        });
      } catch (RuntimeException thrown) {
        // What the work threw is the fault; an error JDBI met while cleaning up after it (on a connection the
        // fault closed) must not replace it.
        RuntimeException failure = unmasked(thrown, workFailed[0]);
        if (!(failure instanceof JdbiException e)) {
          throw failure;
        }
        // A connection lost before COMMIT was sent: PostgreSQL rolled the transaction back, so it runs
        // again once on a fresh connection. Lost during COMMIT, the outcome is unknown: never repeated.
        if (!reconnected && !workDone[0] && connectionLost(e)) {
          reconnected = true;
          evictPooledConnections(e);
          continue;
        }
        if (attempt >= ATTEMPTS || !isRetryable(e)) {
          throw e;
        }
        log.info("transaction aborted by PostgreSQL ({}); running it again (attempt {})", sqlState(e), attempt + 1);
      }
    }
  }

  /** {@code thrown}, unless the work failed first with another exception: then that one, carrying {@code thrown}. */
  static RuntimeException unmasked(RuntimeException thrown, RuntimeException work) {
    if (work == null || work == thrown) {
      return thrown;
    }
    for (Throwable s : work.getSuppressed()) {
      if (s == thrown) {
        return work;
      }
    }
    work.addSuppressed(thrown);
    return work;
  }

  /**
   * True when PostgreSQL dropped the connection (SQLSTATE 08003, 08006, or 57P01/57P02: the server was
   * shut down, restarted, failed over, or an administrator terminated the backend). Such a connection
   * fails the first request that borrows it; the pool's other idle connections most likely died with it.
   */
  static boolean connectionLost(Throwable e) {
    String state = sqlState(e);
    return "08003".equals(state) || "08006".equals(state) || "57P01".equals(state) || "57P02".equals(state);
  }

  /**
   * After a lost connection, the pool's idle connections are closed (in-use ones when returned), so the
   * one retry and the requests after it get fresh connections instead of failing once per dead one.
   */
  private void evictPooledConnections(Throwable e) {
    log.warn("lost a database connection ({}); replacing the pool's connections", sqlState(e));
    var pool = dataSource.getHikariPoolMXBean();
    if (pool != null) {
      pool.softEvictConnections();
    }
  }

  /**
   * Work that joins, at its end, every transaction {@link #inTransaction} runs on the installing thread
   * while it is installed: what the request wrote and what the participant writes commit or roll back
   * together. The idempotency record uses it to be written atomically with the work it records.
   */
  public interface Participant {
    /**
     * Runs inside the transaction, after its work (before it, if {@link #atStart}); throwing rolls the whole
     * transaction back.
     */
    void join(Handle h);

    /**
     * True to join before the work instead of after it: for a check that should refuse the transaction before
     * it does anything (the token's jti claim), rather than a record of what it did (the idempotency reply).
     */
    default boolean atStart() {
      return false;
    }

    /**
     * As {@link #join(Handle)}, in a transaction run by {@link #inTransactionReplying}: {@code reply} is what
     * the request will answer if this transaction commits.
     */
    default void join(Handle h, Object reply) {
      join(h);
    }
  }

  private static final ThreadLocal<List<Participant>> PARTICIPANTS = new ThreadLocal<>();

  /** Runs {@code call} on this thread with {@code participant} joining each of its transactions. */
  public static <R> R withParticipant(Participant participant, java.util.concurrent.Callable<R> call) throws Exception {
    List<Participant> list = PARTICIPANTS.get();
    boolean opened = list == null;
    if (opened) {
      list = new java.util.ArrayList<>();
      PARTICIPANTS.set(list);
    }
    list.add(participant);
    try {
      return call.call();
    } finally {
      list.remove(participant);
      if (opened) {
        PARTICIPANTS.remove();
      }
    }
  }

  /** Opens a scope for {@link #joinCurrentScope} around {@code call} (the router's, per request). */
  public static <R> R inScope(java.util.concurrent.Callable<R> call) throws Exception {
    return withParticipant(h -> { }, call);
  }

  /**
   * Adds {@code participant} to the scope of the {@link #withParticipant} call running on this thread, for
   * the rest of that call. False, and nothing added, when no such call is running.
   */
  public static boolean joinCurrentScope(Participant participant) {
    List<Participant> list = PARTICIPANTS.get();
    if (list == null) {
      return false;
    }
    list.add(participant);
    return true;
  }

  static boolean isRetryable(Throwable e) {
    String state = sqlState(e);
    return "40P01".equals(state) || "40001".equals(state);
  }

  private static String sqlState(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s && s.getSQLState() != null) {
        return s.getSQLState();
      }
    }
    return null;
  }

  /**
   * Runs {@code work} on a handle in autocommit mode: reads only. Every write goes through
   * {@link #inTransaction}, even a single statement, because on SQLite that is where writers queue.
   */
  public <R, X extends Exception> R withHandle(HandleCallback<R, X> work) throws X {
    try {
      return jdbi.withHandle(work);
    } catch (JdbiException e) {
      if (dialect == Dialect.SQLITE || !connectionLost(e)) {
        throw e;
      }
      evictPooledConnections(e); // reads are repeatable: once more on a fresh connection
      return jdbi.withHandle(work);
    }
  }

  /** A cheap round trip proving a connection can be had and used. */
  public boolean ping() {
    try (Connection c = dataSource.getConnection()) {
      return c.isValid(2);
    } catch (SQLException e) {
      return false;
    }
  }

  public Dialect dialect() {
    return dialect;
  }

  public DataSource dataSource() {
    return dataSource;
  }

  public Jdbi jdbi() {
    return jdbi;
  }

  public String url() {
    return url;
  }

  /** The SQLite database file, when this is a file-backed SQLite database. */
  public java.util.Optional<Path> sqliteFile() {
    if (dialect != Dialect.SQLITE) {
      return java.util.Optional.empty();
    }
    String file = url.substring("jdbc:sqlite:".length());
    int q = file.indexOf('?');
    String path = q >= 0 ? file.substring(0, q) : file;
    return path.isEmpty() || path.equals(":memory:") || path.startsWith("file:")
        ? java.util.Optional.empty() : java.util.Optional.of(Path.of(path));
  }

  @Override
  public void close() {
    dataSource.close();
  }
}
