package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.xrpc.XrpcRouter;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The per-caller, per-method limit on a complete node built by {@link Wiring}: the N+1st call in a minute
 * is a 429 with Retry-After, on a test method and on every method the node registers (so methods added
 * later are covered without touching this test).
 */
class RateLimitHttpIT {
  static final int PER_MINUTE = 3;
  static Server server;
  static Http http;
  static String aud;

  @BeforeAll
  static void start() {
    Config c = TestServers.config(TestDatabases.sqlite());
    Config.Limits l = c.limits();
    Config.Limits limits = new Config.Limits(l.keyPackageMaxBytes(), l.keyPackagesPerPublish(),
        l.availableKeyPackagesPerDevice(), l.keyPackageMaxLifetime(), l.reservationLease(), l.didsPerGetKeyPackages(),
        l.membersPerConvo(), l.messageMaxBytes(), l.requestMaxBytes(), l.applicationEpochWindow(), l.welcomeGrace(),
        l.tokenMaxLifetime(), l.keyPackageLowThreshold(), PER_MINUTE, l.keyPackageClaimsPerCallerPerMinute(),
        l.keyPackageClaimsPerTargetPerMinute());
    server = Wiring.build(new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(),
        c.allowDidKey(), c.plcUrl(), c.didWebAllowedInsecureHosts(), null, limits), Clock.systemUTC());
    server.router().query("test.ping", call -> Map.of("ok", true)).query("test.pong", call -> Map.of("ok", true));
    server.start();
    http = new Http(server.port());
    aud = server.config().serviceDid();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  static Http.Response call(DevIdentity caller, XrpcRouter.Method m) {
    String token = caller.token(aud, m.nsid());
    return m.kind() == XrpcRouter.Kind.QUERY ? http.get("/xrpc/" + m.nsid(), token)
        : http.post("/xrpc/" + m.nsid(), token, "{}");
  }

  @Test
  void theCallAfterTheLimitIs429WithRetryAfter() {
    DevIdentity alice = DevIdentity.generate(KeyType.K256);
    XrpcRouter.Method ping = server.router().methods().get("test.ping");
    for (int i = 0; i < PER_MINUTE; i++) {
      assertThat(call(alice, ping).status()).isEqualTo(200);
    }
    Http.Response limited = call(alice, ping);
    assertThat(limited.status()).isEqualTo(429);
    assertThat(limited.error()).isEqualTo("RateLimitExceeded");
    assertThat(Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow())).isPositive();

    assertThat(call(alice, server.router().methods().get("test.pong")).status()).isEqualTo(200); // per method
    assertThat(call(DevIdentity.generate(KeyType.K256), ping).status()).isEqualTo(200);          // per caller
  }

  @Test
  void everyRegisteredMethodIsRateLimited() {
    assertThat(server.router().methods()).containsKey("test.ping");
    for (XrpcRouter.Method m : server.router().methods().values()) {
      DevIdentity caller = DevIdentity.generate(KeyType.P256);
      for (int i = 0; i < PER_MINUTE; i++) {
        call(caller, m);
      }
      Http.Response limited = call(caller, m);
      assertThat(limited.error()).as(m.nsid()).isEqualTo("RateLimitExceeded");
      assertThat(limited.headers().firstValue("Retry-After")).as(m.nsid()).isPresent();
    }
  }
}
