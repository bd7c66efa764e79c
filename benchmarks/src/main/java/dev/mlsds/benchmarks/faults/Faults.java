package dev.mlsds.benchmarks.faults;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code benchmarks/faults}: the fault suite (docs/RELIABILITY.md). Bounded runs against real server
 * processes on loopback, printing one JSON line of figures on stdout (progress on stderr).
 *
 * <pre>
 * benchmarks/faults kill --backend sqlite|postgres [--runs 20] [--nodes 1|2] [--convos 2] [--seed N]
 * benchmarks/faults pgrestart [--restarts 10] [--down-ms 2000]
 * benchmarks/faults diskfull --backend sqlite|postgres
 * </pre>
 */
public final class Faults {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String AUD = "did:web:localhost";
  static final String PG_ADMIN_DEFAULT = "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres";

  private Faults() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      usage();
    }
    Map<String, String> opts = options(args);
    String jar = opts.getOrDefault("--jar", "benchmarks/target/benchmarks.jar");
    Map<String, Object> out = switch (args[0]) {
      case "kill" -> new KillSuite(KillSuite.Options.from(opts), jar).run();
      case "pgrestart" -> new PgRestart(PgRestart.Options.from(opts), jar).run();
      case "diskfull" -> new DiskFull(opts.getOrDefault("--backend", "sqlite"), jar).run();
      default -> {
        usage();
        yield null;
      }
    };
    System.out.println(JSON.writeValueAsString(out));
    Object failures = out.get("violations");
    System.exit(failures instanceof List<?> l && !l.isEmpty() ? 1 : 0);
  }

  static void usage() {
    System.err.println("""
        usage: benchmarks/faults kill --backend sqlite|postgres [--runs 20] [--nodes 1|2] [--convos 2] [--seed N]
               benchmarks/faults pgrestart [--restarts 10] [--down-ms 2000]
               benchmarks/faults diskfull --backend sqlite|postgres""");
    System.exit(2);
  }

  static Map<String, String> options(String[] args) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 1; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --name value, got " + args[i]);
      }
      m.put(args[i], args[++i]);
    }
    return m;
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  static String pgAdmin() {
    String env = System.getenv("MLSDS_TEST_PG_URL");
    return env != null && !env.isBlank() ? env : PG_ADMIN_DEFAULT;
  }

  /** Creates a fresh database on the admin URL's server; returns its JDBC URL. */
  static String createPgDatabase(String admin, String name) throws SQLException {
    try (Connection c = DriverManager.getConnection(admin); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    int q = admin.indexOf('?');
    String base = admin.substring(0, admin.lastIndexOf('/', q < 0 ? admin.length() : q) + 1);
    return base + name + (q < 0 ? "" : admin.substring(q));
  }

  static void dropPgDatabase(String admin, String name) {
    try (Connection c = DriverManager.getConnection(admin); Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (SQLException e) {
      progress("could not drop %s: %s", name, e.getMessage());
    }
  }

  static String randomName(String prefix) {
    return prefix + Long.toHexString(new SecureRandom().nextLong() & Long.MAX_VALUE);
  }

  static void deleteTree(Path dir) {
    try (var files = Files.walk(dir)) {
      for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      // best effort
    }
  }

  static double percentile(List<Long> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Long> s = values.stream().sorted().toList();
    int i = (int) Math.ceil(p / 100.0 * s.size()) - 1;
    return s.get(Math.max(0, Math.min(s.size() - 1, i)));
  }

  static void progress(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[faults] " + format + "%n", args);
  }
}
