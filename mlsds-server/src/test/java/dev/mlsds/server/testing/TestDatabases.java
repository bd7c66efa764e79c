package dev.mlsds.server.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;

/**
 * Fresh, isolated databases for tests: a SQLite file in a temp folder, or a new PostgreSQL database on
 * the machine's real server (never a mock), named per run so concurrent runs never collide. The admin
 * URL defaults to {@code jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres} and can be overridden
 * with {@code MLSDS_TEST_PG_URL}.
 */
public final class TestDatabases {
  private TestDatabases() {}

  public static String adminUrl() {
    String env = System.getenv("MLSDS_TEST_PG_URL");
    return env != null && !env.isBlank() ? env : "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres";
  }

  /** A new SQLite database file URL. */
  public static String sqlite() {
    try {
      Path dir = Files.createTempDirectory("mlsds-test-");
      return "jdbc:sqlite:" + dir.resolve("mlsds.db");
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A handle on a freshly created PostgreSQL database; {@link #close()} drops it. */
  public record Postgres(String name, String url) implements AutoCloseable {
    @Override
    public void close() {
      try (Connection c = DriverManager.getConnection(adminUrl()); Statement s = c.createStatement()) {
        s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      } catch (SQLException e) {
        // best effort: a leftover test database is harmless and named as such
      }
    }
  }

  public static Postgres postgres() {
    String name = "mlsds_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16).toLowerCase(Locale.ROOT);
    try (Connection c = DriverManager.getConnection(adminUrl()); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("PostgreSQL is needed for *IT tests (start it, or set MLSDS_TEST_PG_URL): "
          + e.getMessage(), e);
    }
    String admin = adminUrl();
    int q = admin.indexOf('?');
    String base = admin.substring(0, admin.lastIndexOf('/', q < 0 ? admin.length() : q) + 1);
    String query = q < 0 ? "" : admin.substring(q);
    return new Postgres(name, base + name + query);
  }
}
