package dev.mlsds.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One simulated device: a {@code node e2e/agent/agent.mjs} process (ts-mls 1.6.4) driven over JSON lines
 * (protocol in e2e/agent/README.md). The agent holds all MLS state and keys; the tests do all HTTP.
 *
 * <p>Every wait is bounded: a reply that does not come within {@link #TIMEOUT} fails the test with the
 * tail of the agent's stderr, and {@link #close()} kills the process if it does not exit on its own.
 * Requests are strictly sequential (the agent answers in order), so a reply is matched by its id.
 */
final class MlsAgent implements MlsOps, AutoCloseable {
  static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String EOF = "\u0000eof";

  private volatile String name;
  private final Process process;
  private final OutputStream stdin;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final Path stderr;
  private long nextId = 1;

  /** A failed op ({@code ok: false}): the agent's error text, e.g. "removed from group: …". */
  static final class AgentError extends RuntimeException {
    final String op;

    AgentError(String agent, String op, String error) {
      super(agent + ": " + op + " failed: " + error);
      this.op = op;
    }
  }

  private MlsAgent(String name, Process process, Path stderr) {
    this.name = name;
    this.process = process;
    this.stdin = process.getOutputStream();
    this.stderr = stderr;
    Thread.ofPlatform().daemon().name("agent-" + name).start(this::pump);
  }

  /** Starts a device process named {@code name} (used in messages only). */
  static MlsAgent start(String name) {
    Path dir = agentDir();
    Path script = dir.resolve("agent.mjs");
    if (!Files.isRegularFile(script)) {
      throw new IllegalStateException("the e2e agent is missing: no " + script);
    }
    if (!Files.isDirectory(dir.resolve("node_modules").resolve("ts-mls"))) {
      throw new IllegalStateException("ts-mls is not installed for the e2e agent (" + dir.resolve("node_modules")
          + " has no ts-mls): run npm ci in e2e/agent (.ci/run does it)");
    }
    try {
      Path err = Files.createTempFile("mls-agent-" + name.replaceAll("[^A-Za-z0-9_-]", "_") + "-", ".stderr");
      Process p = new ProcessBuilder(node().toString(), script.toString())
          .directory(dir.toFile())
          .redirectError(err.toFile())
          .start();
      return new MlsAgent(name, p, err);
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the e2e agent with " + node() + ": " + e.getMessage(), e);
    }
  }

  /** e2e/agent: the system property set by the e2e pom, else {@code agent/} under the working directory. */
  static Path agentDir() {
    String configured = System.getProperty("mlsds.e2e.agentDir");
    Path dir = configured != null && !configured.isBlank() ? Path.of(configured) : Path.of("agent");
    return dir.toAbsolutePath().normalize();
  }

  /** The first executable {@code node} on PATH. */
  static Path node() {
    String path = System.getenv("PATH");
    for (String entry : path == null ? new String[0] : path.split(java.io.File.pathSeparator)) {
      if (entry.isBlank()) {
        continue;
      }
      Path candidate = Path.of(entry, "node");
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException("no executable 'node' on PATH: the e2e suite needs Node >= 20 "
        + "(and npm ci in e2e/agent; .ci/run does both)");
  }

  private void pump() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        lines.add(line);
      }
    } catch (IOException e) {
      // the process went away; the waiter sees EOF below
    }
    lines.add(EOF);
  }

  /** Names the process after the device it now plays (for failure messages). */
  void rename(String newName) {
    this.name = newName;
  }

  /** Runs {@code op} with alternating argument names and values; fails the test on {@code ok: false}. */
  @Override
  public JsonNode call(String op, Object... args) {
    JsonNode reply = request(op, args);
    if (!reply.path("ok").asBoolean(false)) {
      throw new AgentError(name, op, reply.path("error").asText());
    }
    return reply.path("result");
  }

  /** Runs {@code op} and returns the error text, failing the test if the op unexpectedly succeeded. */
  @Override
  public String callExpectingError(String op, Object... args) {
    JsonNode reply = request(op, args);
    if (reply.path("ok").asBoolean(false)) {
      throw new AssertionError(name + ": " + op + " was expected to fail but returned " + reply.path("result"));
    }
    return reply.path("error").asText();
  }

  private synchronized JsonNode request(String op, Object... args) {
    if (args.length % 2 != 0) {
      throw new IllegalArgumentException("arguments come in name, value pairs");
    }
    long id = nextId++;
    ObjectNode req = JSON.createObjectNode();
    req.put("id", id);
    req.put("op", op);
    for (int i = 0; i < args.length; i += 2) {
      req.set((String) args[i], JSON.valueToTree(args[i + 1]));
    }
    try {
      stdin.write((JSON.writeValueAsString(req) + "\n").getBytes(StandardCharsets.UTF_8));
      stdin.flush();
    } catch (IOException e) {
      throw new AssertionError(name + ": cannot write to the agent (" + e.getMessage() + ")" + stderrTail(), e);
    }
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      String line;
      try {
        line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(name + ": interrupted waiting for " + op, e);
      }
      if (line == null) {
        throw new AssertionError(name + ": no reply to " + op + " within " + TIMEOUT.toSeconds() + " s" + stderrTail());
      }
      if (line == EOF) {
        lines.add(EOF);
        throw new AssertionError(name + ": the agent exited during " + op + stderrTail());
      }
      JsonNode reply;
      try {
        reply = JSON.readTree(line);
      } catch (IOException e) {
        throw new AssertionError(name + ": not a JSON line from the agent: " + line + stderrTail(), e);
      }
      if (reply.path("id").asLong(-1) == id) {
        return reply;
      }
    }
  }

  private String stderrTail() {
    try {
      List<String> all = Files.readAllLines(stderr);
      List<String> tail = all.subList(Math.max(0, all.size() - 20), all.size());
      return tail.isEmpty() ? "" : "\n--- agent stderr (tail) ---\n" + String.join("\n", tail);
    } catch (IOException e) {
      return "";
    }
  }

  /** Kills the process (after a polite exit, bounded) and deletes its stderr file. */
  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        try {
          stdin.write("{\"id\":0,\"op\":\"exit\"}\n".getBytes(StandardCharsets.UTF_8));
          stdin.flush();
        } catch (IOException ignored) {
          // already gone
        }
        if (!process.waitFor(2, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    } finally {
      try {
        Files.deleteIfExists(stderr);
      } catch (IOException ignored) {
        // a temp file
      }
    }
  }

  @Override
  public String toString() {
    return "MlsAgent[" + name + "]";
  }

  static Map<String, String> bytes(String base64) {
    return Map.of("$bytes", base64);
  }
}
