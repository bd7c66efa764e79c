package dev.mlsds.server.ops;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.core.ConsoleAppender;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LogConfiguratorTest {
  @Test
  void oneLineOnStderrWithTheRequestIdAndLibrariesAtWarn() {
    LoggerContext context = new LoggerContext();
    context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
    PrintStream realErr = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      assertThat(new LogConfigurator().configure(context)).isEqualTo(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
      var root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      assertThat(root.getLevel()).isEqualTo(Level.INFO);
      assertThat(((ConsoleAppender<?>) root.getAppender("STDERR")).getTarget()).isEqualTo("System.err");
      for (String quiet : new String[] {"org.eclipse.jetty", "io.javalin", "com.zaxxer.hikari", "org.flywaydb"}) {
        assertThat(context.getLogger(quiet).getEffectiveLevel()).as(quiet).isEqualTo(Level.WARN);
      }
      context.getMDCAdapter().put("requestId", "r-123");
      try {
        context.getLogger("dev.mlsds.server.Server").info("hello");
        context.getLogger("org.eclipse.jetty.server.Server").info("not shown");
      } finally {
        context.getMDCAdapter().remove("requestId");
      }
    } finally {
      System.setErr(realErr);
      context.stop();
    }
    String out = err.toString(StandardCharsets.UTF_8);
    assertThat(out).matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  \\[r-123\\] dev\\.mlsds\\.server\\.Server - hello\\R");
  }

  @Test
  void aConfigurationFileNamedByTheOperatorWins() {
    String before = System.getProperty("logback.configurationFile");
    System.setProperty("logback.configurationFile", "/nonexistent/logback.xml");
    try {
      LoggerContext context = new LoggerContext();
      assertThat(new LogConfigurator().configure(context)).isEqualTo(ExecutionStatus.INVOKE_NEXT_IF_ANY);
      assertThat(context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("STDERR")).isNull();
    } finally {
      if (before == null) {
        System.clearProperty("logback.configurationFile");
      } else {
        System.setProperty("logback.configurationFile", before);
      }
    }
  }
}
