package dev.mlsds.server.repo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./mlsds} launcher, run as a user runs it, on the jar this build made: stdout carries only the
 * command's output, and the class-data archive never produces JVM messages — not on the first run (when it
 * is written), and not after the jar is rebuilt (when the old archive no longer fits and a new one is made).
 * The launcher and the jar are copied into a temporary tree shaped like the repository (without sources,
 * so the launcher does not try to build).
 */
class LauncherIT {
  static final String NSID = "blue.catbird.mls.getConvos";

  record Run(int exit, List<String> out, String err) {}

  @Test
  void tokenAndInspectPrintOnlyTheirOwnLinesOnFirstRunAndAfterARebuild(@TempDir Path tree) throws Exception {
    Path builtJar = launcherTree(tree);
    Path jar = tree.resolve("mlsds-server/target/mlsds.jar");
    Path inputs = tree.resolve("inputs.txt");
    Files.writeString(inputs, String.join("\n", inspectInputs()) + "\n");

    // First run: no archive yet; the JVM writes one at exit, silently.
    checkToken(run(tree, "token", NSID));
    List<Path> first = archives(tree);
    assertThat(first).as("archive written by the first run").hasSize(1);
    checkInspect(run(tree, "inspect", "--lines", inputs.toString()));
    assertThat(archives(tree)).as("the archive is reused").isEqualTo(first);

    // A rebuild: a new jar file with a new modification time. The old archive no longer fits it.
    Files.copy(builtJar, jar, StandardCopyOption.REPLACE_EXISTING);
    Files.setLastModifiedTime(jar, FileTime.from(Instant.now().plusSeconds(5)));
    checkToken(run(tree, "token", NSID));
    List<Path> second = archives(tree);
    assertThat(second).as("a fresh archive replaces the stale one").hasSize(1).doesNotContainAnyElementsOf(first);
    checkInspect(run(tree, "inspect", "--lines", inputs.toString()));
    checkToken(run(tree, "token", NSID));
    assertThat(archives(tree)).isEqualTo(second);
  }

  @Test
  void serveMakesItsStartUpCacheOnceAndKeepsStdoutEmpty(@TempDir Path tree) throws Exception {
    launcherTree(tree);
    // JDK 25+: the launcher trains the JDK's AOT cache before the first serve; older JDKs: a class-data archive.
    boolean aot = Runtime.version().feature() >= 25;
    String suffix = aot ? ".aot" : ".jsa";

    Run first = serveUntilReady(tree, tree.resolve("data1"));
    assertThat(first.out()).as("serve's stdout").isEmpty();
    assertNoJvmMessages(first);
    if (aot) {
      assertThat(first.err()).contains("preparing the start-up cache");
    }
    List<Path> caches = files(tree, suffix);
    assertThat(caches).as("one start-up cache for this jar").hasSize(1);
    assertThat(files(tree, ".config")).as("no training leftovers").isEmpty();

    Run second = serveUntilReady(tree, tree.resolve("data2"));
    assertThat(second.out()).as("serve's stdout").isEmpty();
    assertNoJvmMessages(second);
    assertThat(second.err()).doesNotContain("preparing the start-up cache");
    assertThat(files(tree, suffix)).as("the cache is reused").isEqualTo(caches);
  }

  /** A tree with the launcher, find-jdk and a copy of the built jar; returns the built jar. */
  private static Path launcherTree(Path tree) throws IOException {
    Path root = SelfContainedTest.repositoryRoot();
    Path builtJar = root.resolve("mlsds-server/target/mlsds.jar");
    assertThat(builtJar).as("the shaded jar (package phase)").isRegularFile();
    Files.createDirectories(tree.resolve("bin"));
    Files.createDirectories(tree.resolve("mlsds-server/target"));
    copyExecutable(root.resolve("mlsds"), tree.resolve("mlsds"));
    copyExecutable(root.resolve("bin/find-jdk"), tree.resolve("bin/find-jdk"));
    Files.copy(builtJar, tree.resolve("mlsds-server/target/mlsds.jar"));
    return builtJar;
  }

  /** Starts `./mlsds serve` on a free port, waits for /health/ready (at most 3 min: the first run trains), stops it. */
  private static Run serveUntilReady(Path tree, Path data) throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    ProcessBuilder pb = new ProcessBuilder(tree.resolve("mlsds").toString(), "serve").directory(tree.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().remove("MLSDS_JAVA_OPTS");
    pb.environment().remove("MLSDS_DATABASE_URL");
    pb.environment().put("MLSDS_PROFILE", "dev");
    pb.environment().put("MLSDS_BIND", "127.0.0.1");
    pb.environment().put("MLSDS_PORT", String.valueOf(port));
    pb.environment().put("MLSDS_DATA_DIR", data.toString());
    Path out = Files.createTempFile(tree, "stdout", ".txt");
    Path err = Files.createTempFile(tree, "stderr", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    try {
      boolean ready = false;
      for (int i = 0; i < 1800 && !ready && p.isAlive(); i++) { // 1800 x 100 ms
        try {
          ready = new dev.mlsds.server.testing.Http(port).get("/health/ready", null).status() == 200;
        } catch (RuntimeException | AssertionError notYet) { // Http fails a refused connection as an assertion
          // not listening yet
        }
        if (!ready) {
          Thread.sleep(100);
        }
      }
      assertThat(ready).as("serve became ready; stderr: " + Files.readString(err)).isTrue();
    } finally {
      p.destroy();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
    return new Run(p.exitValue(), Files.readString(out).lines().toList(), Files.readString(err));
  }

  private static List<Path> files(Path tree, String suffix) throws IOException {
    try (Stream<Path> s = Files.list(tree.resolve("mlsds-server/target"))) {
      return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    }
  }

  /** Three objects: a valid KeyPackage in hex, the same in base64, and a malformed one. */
  private static List<String> inspectInputs() {
    Instant now = Instant.now();
    byte[] kp = TestKeyPackages.builder(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, "did:plc:alice")
        .lifetime(now.minusSeconds(60), now.plusSeconds(86400)).framed(true).build();
    return List.of(HexFormat.of().formatHex(kp), Base64.getEncoder().encodeToString(kp), "0001000500");
  }

  private static void checkToken(Run r) {
    assertThat(r.exit()).as("exit; stderr: " + r.err()).isZero();
    assertThat(r.out()).as("stdout of mlsds token").hasSize(1);
    assertThat(r.out().get(0)).matches("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+");
    assertNoJvmMessages(r);
  }

  private static void checkInspect(Run r) throws IOException {
    assertThat(r.out()).as("stdout of mlsds inspect --lines: one line per input; stderr: " + r.err()).hasSize(3);
    for (String line : r.out()) {
      JsonNode json = Json.MAPPER.readTree(line);
      assertThat(json.isObject()).as(line).isTrue();
    }
    assertThat(r.out().get(0)).contains("\"wireFormat\":\"mls_key_package\"");
    assertThat(r.out().get(1)).isEqualTo(r.out().get(0));
    assertThat(r.out().get(2)).contains("\"error\"");
    assertNoJvmMessages(r);
  }

  private static void assertNoJvmMessages(Run r) {
    for (String line : (String.join("\n", r.out()) + "\n" + r.err()).split("\n")) {
      assertThat(line).as("a JVM log line").doesNotContain("[cds").doesNotContain("[aot").doesNotContain("[warning]")
          .doesNotContain("[error");
    }
  }

  private static Run run(Path tree, String... args) throws Exception {
    List<String> command = Stream.concat(Stream.of(tree.resolve("mlsds").toString()), Stream.of(args)).toList();
    ProcessBuilder pb = new ProcessBuilder(command).directory(tree.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().remove("MLSDS_JAVA_OPTS");
    Path err = Files.createTempFile(tree, "stderr", ".txt");
    pb.redirectError(err.toFile());
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("mlsds " + String.join(" ", args) + " finished").isTrue();
    String text = new String(out, StandardCharsets.UTF_8);
    return new Run(p.exitValue(), text.lines().toList(), Files.readString(err));
  }

  private static List<Path> archives(Path tree) throws IOException {
    try (Stream<Path> s = Files.list(tree.resolve("mlsds-server/target"))) {
      return s.filter(p -> p.getFileName().toString().endsWith(".jsa")).sorted().toList();
    }
  }

  private static void copyExecutable(Path from, Path to) throws IOException {
    Files.copy(from, to);
    Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwxr-xr-x"));
  }
}
