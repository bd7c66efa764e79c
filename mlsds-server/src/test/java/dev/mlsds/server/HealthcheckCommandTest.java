package dev.mlsds.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code mlsds healthcheck}: 0 against a ready node, 1 when nothing listens. */
class HealthcheckCommandTest {
  static int run(StringWriter out, String... args) {
    return new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(out, true)).execute(args);
  }

  @Test
  void zeroWhenTheNodeIsReadyOneWhenNothingAnswers() throws Exception {
    Server server = TestServers.start(TestDatabases.sqlite());
    try {
      StringWriter out = new StringWriter();
      assertThat(run(out, "healthcheck", "--port", Integer.toString(server.port()))).as(out.toString()).isZero();
      assertThat(out.toString()).contains("/health/ready 200");
      StringWriter bind = new StringWriter();
      assertThat(run(bind, "healthcheck", "--bind", "0.0.0.0", "--port", Integer.toString(server.port()), "--path", "/health/live"))
          .as(bind.toString()).isZero();
    } finally {
      server.stop();
    }
    int free;
    try (ServerSocket s = new ServerSocket(0)) {
      free = s.getLocalPort();
    }
    StringWriter out = new StringWriter();
    assertThat(run(out, "healthcheck", "--port", Integer.toString(free))).isEqualTo(1);
    assertThat(out.toString()).contains("unreachable");
  }
}
