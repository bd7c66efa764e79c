package dev.mlsds.server.ops;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * Online backup of the embedded SQLite database to a file, safe while the server runs and writes.
 *
 * <p>{@code VACUUM INTO} copies the database inside one read transaction, so the copy is the database as
 * of one instant: every transaction committed before it started is in, none that commits during the copy
 * is, and in WAL mode it never blocks the server's writers. The copy is written next to the target under
 * a temporary name, checked ({@code PRAGMA integrity_check}) and only then renamed to the target, so the
 * target is either absent or a complete, valid database. It is a plain SQLite file: restoring is stopping
 * the server and putting the file back as {@code mlsds.db} (see docs/operations.md).
 */
public final class Backup {
  private Backup() {}

  /** What was written. {@code schemaVersion} is the schema version of the copy (Flyway's latest applied). */
  public record Result(Path target, long bytes, String schemaVersion) {}

  /**
   * Copies the SQLite database at {@code jdbcUrl} to {@code target}, which must not exist yet.
   *
   * @throws IllegalArgumentException with a one-line reason when the URL is not SQLite, the database file
   *     does not exist, or the target exists
   */
  public static Result sqlite(String jdbcUrl, Path target) {
    if (!jdbcUrl.startsWith("jdbc:sqlite:")) {
      throw new IllegalArgumentException("backup copies the embedded SQLite database; for PostgreSQL use pg_dump"
          + " (see docs/operations.md)");
    }
    String rest = jdbcUrl.substring("jdbc:sqlite:".length());
    int q = rest.indexOf('?');
    Path source = Path.of(q >= 0 ? rest.substring(0, q) : rest).toAbsolutePath();
    if (!Files.isRegularFile(source)) {
      throw new IllegalArgumentException("no database at " + source);
    }
    Path out = target.toAbsolutePath();
    if (Files.exists(out)) {
      throw new IllegalArgumentException(out + " exists; give a new file name");
    }
    if (out.getParent() != null && !Files.isDirectory(out.getParent())) {
      throw new IllegalArgumentException("no folder " + out.getParent());
    }
    Path partial = out.resolveSibling("." + out.getFileName() + ".partial-" + ProcessHandle.current().pid());
    try {
      Files.deleteIfExists(partial);
      // VACUUM INTO reads the source in one transaction and changes nothing in it; no migration runs.
      try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + source, busyTimeout());
           PreparedStatement vacuum = c.prepareStatement("VACUUM INTO ?")) {
        vacuum.setString(1, partial.toString());
        vacuum.execute();
      }
      String version;
      try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + partial);
           Statement s = c.createStatement()) {
        try (ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
          String verdict = rs.next() ? rs.getString(1) : "no answer";
          if (!"ok".equals(verdict)) {
            throw new IllegalStateException("the copy failed its integrity check: " + verdict);
          }
        }
        version = schemaVersion(s);
      }
      try {
        Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(partial, out);
      }
      return new Result(out, Files.size(out), version);
    } catch (SQLException | IOException e) {
      throw new IllegalStateException("backup of " + source + " failed: " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(partial);
      } catch (IOException ignored) {
        // the partial file is named as such; nothing else to do
      }
    }
  }

  private static Properties busyTimeout() {
    Properties p = new Properties();
    p.setProperty("busy_timeout", "10000");
    return p;
  }

  private static String schemaVersion(Statement s) {
    try (ResultSet rs = s.executeQuery(
        "SELECT version FROM flyway_schema_history WHERE success = 1 AND version IS NOT NULL"
            + " ORDER BY installed_rank DESC LIMIT 1")) {
      return rs.next() ? rs.getString(1) : "none";
    } catch (SQLException e) {
      return "none";
    }
  }
}
