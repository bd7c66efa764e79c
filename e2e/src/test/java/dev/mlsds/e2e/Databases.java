package dev.mlsds.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;

/**
 * Fresh databases per test class: a SQLite file in a temp folder, or a new PostgreSQL database on the
 * machine's real server, named per run so concurrent runs never collide, dropped afterwards. The admin
 * URL defaults to {@code jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres}; {@code MLSDS_TEST_PG_URL}
 * overrides it (the same convention as the server module's tests).
 */
final class Databases {
  private Databases() {}

  static String adminUrl() {
    String env = System.getenv("MLSDS_TEST_PG_URL");
    return env != null && !env.isBlank() ? env : "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres";
  }

  static String sqlite() {
    try {
      return "jdbc:sqlite:" + Files.createTempDirectory("mlsds-e2e-").resolve("mlsds.db");
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A freshly created PostgreSQL database; {@link #close()} drops it. */
  record Postgres(String name, String url) implements AutoCloseable {
    @Override
    public void close() {
      try (Connection c = DriverManager.getConnection(adminUrl()); Statement s = c.createStatement()) {
        s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      } catch (SQLException e) {
        // best effort: a leftover test database is harmless and named as such
      }
    }
  }

  static Postgres postgres() {
    String name = "mlsds_e2e_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16).toLowerCase(Locale.ROOT);
    try (Connection c = DriverManager.getConnection(adminUrl()); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("PostgreSQL is needed for the e2e PostgreSQL run (start it, or set "
          + "MLSDS_TEST_PG_URL): " + e.getMessage(), e);
    }
    String admin = adminUrl();
    int q = admin.indexOf('?');
    String base = admin.substring(0, admin.lastIndexOf('/', q < 0 ? admin.length() : q) + 1);
    return new Postgres(name, base + name + (q < 0 ? "" : admin.substring(q)));
  }
}
