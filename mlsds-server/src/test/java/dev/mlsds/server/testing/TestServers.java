package dev.mlsds.server.testing;

import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import java.nio.file.Path;
import java.time.Clock;
import java.util.function.UnaryOperator;

/** Starts complete nodes (the same {@link Wiring} as {@code mlsds serve}) on a free loopback port. */
public final class TestServers {
  private TestServers() {}

  /** The dev-profile configuration on port 0 over {@code dbUrl}. */
  public static Config config(String dbUrl) {
    Config d = Config.devDefaults();
    return new Config(d.profile(), "127.0.0.1", 0, Path.of("unused"), dbUrl, d.serviceDid(), true, d.plcUrl(),
        d.didWebAllowedInsecureHosts(), null, d.limits());
  }

  public static Server start(String dbUrl) {
    return start(dbUrl, c -> c, Clock.systemUTC());
  }

  public static Server start(String dbUrl, UnaryOperator<Config> tweak, Clock clock) {
    return Wiring.build(tweak.apply(config(dbUrl)), clock).start();
  }
}
