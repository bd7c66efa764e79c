package dev.mlsds.benchmarks.faults;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One mlsds node as a real child process ({@code java -cp <jar> dev.mlsds.server.Main serve}, the same
 * entry point as {@code ./mlsds serve}) on a fixed loopback port, so clients reconnect to the same
 * address after a restart. {@link #kill()} is SIGKILL: no shutdown hook, no flush, no goodbye.
 */
final class Node implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  final String name;
  final int port;
  private final String classpath;
  private final Map<String, String> env;
  private final Path log;
  private final Path cds;
  private volatile Process process;
  private int starts;

  Node(String name, String classpath, String databaseUrl, Path work) throws IOException {
    this.name = name;
    this.port = freePort();
    this.classpath = classpath;
    this.log = work.resolve(name + ".log");
    this.cds = work.resolve("cds-" + name + ".jsa");
    Map<String, String> e = new LinkedHashMap<>();
    e.put("MLSDS_PROFILE", "dev");
    e.put("MLSDS_BIND", "127.0.0.1");
    e.put("MLSDS_PORT", String.valueOf(port));
    e.put("MLSDS_DATA_DIR", work.resolve("data-" + name).toString());
    e.put("MLSDS_DATABASE_URL", databaseUrl);
    e.put("MLSDS_SERVICE_DID", Faults.AUD);
    e.put("MLSDS_ALLOW_DID_KEY", "true");
    // The suite drives a few callers hard: lift the per-caller throttles so that what is measured is
    // crash safety, not rate limiting (the limits have their own tests).
    e.put("MLSDS_RATE_LIMIT_PER_MINUTE", "100000000");
    e.put("MLSDS_IN_FLIGHT_PER_CALLER", "100000");
    e.put("MLSDS_COMMITS_PER_MEMBER_PER_MINUTE", "0");
    e.put("MLSDS_MIN_FREE_DISK_MB", "0");
    this.env = e;
  }

  /** Overrides one MLSDS_* variable for the next start. */
  Node env(String key, String value) {
    env.put(key, value);
    return this;
  }

  String baseUrl() {
    return "http://127.0.0.1:" + port;
  }

  /** Starts the process and waits for {@code /health/ready}; returns the milliseconds that took. */
  long start() throws Exception {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(name + " is running");
    }
    List<String> cmd = new ArrayList<>(List.of(Faults.java(), "-Xmx384m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-Xlog:disable", "-Xlog:all=warning,cds*=off,aot*=off:stderr", "--enable-native-access=ALL-UNNAMED",
        "-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + cds,
        "-cp", classpath, "dev.mlsds.server.Main", "serve"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(env);
    long t0 = System.nanoTime();
    process = pb.start();
    starts++;
    awaitReady(Duration.ofSeconds(300)); // a loaded 2-core machine took over 90 s
    return (System.nanoTime() - t0) / 1_000_000;
  }

  boolean alive() {
    Process p = process;
    return p != null && p.isAlive();
  }

  /** SIGKILL, then waits until the process is gone. */
  void kill() throws InterruptedException {
    Process p = process;
    if (p != null) {
      p.destroyForcibly();
      p.waitFor();
    }
  }

  void killQuietly() {
    Process p = process;
    if (p != null) {
      p.destroyForcibly();
    }
  }

  /** SIGTERM (graceful stop, which also writes the class-data archive), SIGKILL after 20 s. */
  void stop() throws InterruptedException {
    Process p = process;
    if (p != null && p.isAlive()) {
      p.destroy();
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
      }
    }
  }

  int starts() {
    return starts;
  }

  Path log() {
    return log;
  }

  void awaitReady(Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      Process p = process;
      if (p == null || !p.isAlive()) {
        throw new IllegalStateException(name + " exited during start; see " + log);
      }
      try {
        HttpResponse<Void> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl() + "/health/ready"))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(25);
    }
    throw new IllegalStateException(name + " not ready after " + max + "; see " + log);
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
