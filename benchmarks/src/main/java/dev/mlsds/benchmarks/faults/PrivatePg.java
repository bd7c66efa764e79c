package dev.mlsds.benchmarks.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A private PostgreSQL cluster of this run (initdb into a folder of its own, on a port of its own), which
 * the fault suite may stop, crash and restart; the machine's shared server on 5432 is never touched.
 * When run as root the cluster runs as the {@code postgres} user (PostgreSQL refuses root).
 */
final class PrivatePg implements AutoCloseable {
  final Path dir;
  final int port;
  private final Path bin;
  private final boolean asPostgres;

  private PrivatePg(Path dir, int port, Path bin, boolean asPostgres) {
    this.dir = dir;
    this.port = port;
    this.bin = bin;
    this.asPostgres = asPostgres;
  }

  /** The folder of initdb/pg_ctl: the newest /usr/lib/postgresql/N/bin, else the PATH's. */
  static Path binDir() {
    Path base = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(base)) {
      try (Stream<Path> versions = Files.list(base)) {
        var newest = versions.filter(v -> Files.isExecutable(v.resolve("bin/initdb")))
            .max(Comparator.comparingInt(v -> parseInt(v.getFileName().toString())));
        if (newest.isPresent()) {
          return newest.get().resolve("bin");
        }
      } catch (IOException e) {
        // fall through to PATH
      }
    }
    for (String p : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!p.isEmpty() && Files.isExecutable(Path.of(p, "initdb"))) {
        return Path.of(p);
      }
    }
    return null;
  }

  static boolean available() {
    return binDir() != null;
  }

  /** initdb into {@code dir} (created; must not exist or be empty) and start on a free loopback port. */
  static PrivatePg create(Path dir, String... extraConf) throws Exception {
    Path bin = binDir();
    if (bin == null) {
      throw new IllegalStateException("initdb not found (/usr/lib/postgresql/*/bin or PATH)");
    }
    boolean root = "root".equals(System.getProperty("user.name"));
    Files.createDirectories(dir);
    if (root) {
      // The postgres user must reach the folder: our temp folders are created rwx------.
      for (Path p = dir.toAbsolutePath().getParent(); p != null; p = p.getParent()) {
        var perms = new java.util.HashSet<>(Files.getPosixFilePermissions(p));
        if (perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
          Files.setPosixFilePermissions(p, perms);
        }
      }
      exec(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
      exec(List.of("chmod", "700", dir.toString()), false);
    }
    PrivatePg pg = new PrivatePg(dir, Node.freePort(), bin, root);
    pg.run(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", "postgres",
        "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1"));
    List<String> conf = new ArrayList<>(List.of("listen_addresses = '127.0.0.1'", "port = " + pg.port,
        "unix_socket_directories = '" + dir + "'", "max_connections = 60", "shared_buffers = 16MB",
        "max_wal_size = 32MB", "min_wal_size = 4MB", "logging_collector = off"));
    conf.addAll(List.of(extraConf));
    Path confFile = dir.resolve("data/postgresql.conf");
    Files.writeString(confFile, Files.readString(confFile) + "\n" + String.join("\n", conf) + "\n");
    pg.start();
    return pg;
  }

  String adminUrl() {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres&connectTimeout=5&socketTimeout=30";
  }

  String url(String db) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + db + "?user=postgres";
  }

  /** pg_ctl start, waiting until it accepts connections. */
  void start() throws Exception {
    run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-l",
        dir.resolve("postgres.log").toString(), "-w", "-t", "120", "start"));
  }

  /** pg_ctl stop -m immediate: every backend killed, no checkpoint; crash recovery on the next start. */
  void stopImmediate() throws Exception {
    run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "immediate", "-w",
        "stop"));
  }

  boolean running() throws Exception {
    return runQuiet(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "status")) == 0;
  }

  Path log() {
    return dir.resolve("postgres.log");
  }

  @Override
  public void close() {
    try {
      if (running()) {
        stopImmediate();
      }
    } catch (Exception e) {
      Faults.progress("private PostgreSQL: stop failed: %s", e.getMessage());
    }
  }

  private void run(List<String> cmd) throws Exception {
    exec(asPostgres ? withUser(cmd) : cmd, true);
  }

  private int runQuiet(List<String> cmd) throws Exception {
    return exec(asPostgres ? withUser(cmd) : cmd, false);
  }

  private static List<String> withUser(List<String> cmd) {
    List<String> out = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
    out.addAll(cmd);
    return out;
  }

  private static int exec(List<String> cmd, boolean check) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).directory(Path.of("/tmp").toFile()).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int rc = p.waitFor();
    if (check && rc != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " exited " + rc + ":\n" + out);
    }
    return rc;
  }

  private static int parseInt(String s) {
    try {
      return Integer.parseInt(s.toLowerCase(Locale.ROOT));
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
