package dev.mlsds.server.storage;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.util.Properties;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * Where the pool opens its PostgreSQL connections: an attempt the server refuses for a reason that passes
 * (SQLSTATE class 08, connection refused or dropped; 57P03, starting up or in crash recovery) is repeated
 * every {@link #POLL} for up to {@link #PATIENCE} before it fails.
 *
 * <p>Why: HikariCP retries a failed connection with a back-off that doubles from 10 ms up to 5 s, so after
 * an outage of a few seconds its next attempt could come seconds after PostgreSQL is back, and a node
 * needed up to 5 s to recover by itself (docs/RELIABILITY.md, "PostgreSQL restart"). With this, one of the
 * pool's attempts polls for {@link #PATIENCE} and Hikari's back-off between attempts stays in the tens of
 * milliseconds for the first twenty seconds of an outage: a node is back within about {@link #POLL} of its
 * database. Other failures (authentication, a missing database) fail at once.
 */
final class PatientPostgresDataSource implements DataSource {
  static final Duration POLL = Duration.ofMillis(100);
  static final Duration PATIENCE = Duration.ofMillis(2_500);

  private final String url;
  private final Properties properties;
  private final org.postgresql.Driver driver = new org.postgresql.Driver();

  PatientPostgresDataSource(String url, Properties properties) {
    this.url = url;
    this.properties = properties;
  }

  /** Whether a failure to connect is one that may pass by itself (the server is down or starting). */
  static boolean passing(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("08") || state.equals("57P03"));
  }

  @Override
  public Connection getConnection() throws SQLException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (true) { // bounded by the deadline
      try {
        Connection c = driver.connect(url, properties);
        if (c == null) {
          throw new SQLException("not a PostgreSQL URL", "08001");
        }
        return c;
      } catch (SQLException e) {
        if (!passing(e) || System.nanoTime() + POLL.toNanos() > deadline) {
          throw e;
        }
        try {
          Thread.sleep(POLL);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException("credentials come from the URL");
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {}

  @Override
  public void setLoginTimeout(int seconds) {}

  @Override
  public int getLoginTimeout() {
    return 0;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException();
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    if (type.isInstance(this)) {
      return type.cast(this);
    }
    throw new SQLException("not a wrapper for " + type);
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return type.isInstance(this);
  }
}
