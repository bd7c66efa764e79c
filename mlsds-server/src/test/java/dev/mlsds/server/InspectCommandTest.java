package dev.mlsds.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.testing.TestKeyPackages;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code mlsds inspect} through the real command line. */
class InspectCommandTest {
  record Run(int exit, String out) {}

  static Run run(String... args) {
    PrintStream original = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      int exit = new CommandLine(new Main()).execute(args);
      return new Run(exit, buf.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(original);
    }
  }

  @Test
  void validKeyPackageFromAFileIsDescribedAndValid(@TempDir Path dir) throws Exception {
    Instant now = Instant.now();
    byte[] kp = TestKeyPackages.builder(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, "did:plc:alice")
        .lifetime(now.minusSeconds(60), now.plusSeconds(86400)).framed(true).build();
    Path f = dir.resolve("kp.hex");
    Files.writeString(f, HexFormat.of().formatHex(kp));
    Run r = run("inspect", f.toString());
    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("\"wireFormat\":\"mls_key_package\"").contains("\"identity\":\"did:plc:alice\"")
        .contains("\"valid\":true");
    // The same KeyPackage checked a year later has expired.
    Run later = run("inspect", "--at", now.plusSeconds(365L * 86400).toString(), f.toString());
    assertThat(later.out()).contains("\"valid\":false");
  }

  @Test
  void malformedInputExitsNonZeroWithAnErrorObject(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("bad.hex");
    Files.writeString(f, "0001000500");
    Run r = run("inspect", f.toString());
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("\"error\"").contains("\"offset\"");
    assertThat(run("inspect", "--at", "yesterday", f.toString()).exit()).isEqualTo(2);
  }
}
