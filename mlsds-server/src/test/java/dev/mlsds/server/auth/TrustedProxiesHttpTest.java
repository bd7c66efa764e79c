package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The per-source-address budget of failing tokens (review M3) behind a reverse proxy: with
 * {@code MLSDS_TRUSTED_PROXIES} naming the proxy, each client named by {@code X-Forwarded-For} has its own
 * budget and cannot escape it by writing the header itself; without it the header is ignored.
 */
class TrustedProxiesHttpTest {
  static final String NSID = "blue.catbird.mls.getConvos";
  static final int BUDGET = 3;

  @Test
  @DisplayName("behind a trusted proxy, failing tokens are counted per X-Forwarded-For client; a spoofed entry does not help")
  void perClientBehindTrustedProxy() {
    Server server = start(List.of("127.0.0.1", "::1"));
    try {
      Http http = new Http(server.port());
      for (int i = 0; i < BUDGET; i++) {
        assertThat(forged(http, server, "203.0.113.9").status()).isEqualTo(401);
      }
      assertThat(forged(http, server, "203.0.113.9").status()).as("budget used up").isEqualTo(429);
      // The client writes another address first; the proxy appends the real one, which is what counts.
      assertThat(forged(http, server, "198.51.100.1, 203.0.113.9").status()).isEqualTo(429);
      // Another client behind the same proxy has its own budget.
      assertThat(forged(http, server, "203.0.113.10").status()).isEqualTo(401);
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("without trusted proxies (the default) X-Forwarded-For is ignored: the connection's address counts")
  void headerIgnoredByDefault() {
    Server server = start(List.of());
    try {
      Http http = new Http(server.port());
      for (int i = 0; i < BUDGET; i++) {
        assertThat(forged(http, server, "203.0.113." + i).status()).isEqualTo(401);
      }
      assertThat(forged(http, server, "203.0.113.99").status()).as("one budget for 127.0.0.1").isEqualTo(429);
    } finally {
      server.stop();
    }
  }

  static Server start(List<String> proxies) {
    return TestServers.start(TestDatabases.sqlite(),
        c -> c.withBounds(c.bounds().withDid(4, BUDGET, 100).withTrustedProxies(proxies)), Clock.systemUTC());
  }

  /** A well-formed token whose signature is not its issuer's: authentication fails at the signature. */
  static Http.Response forged(Http http, Server server, String forwardedFor) {
    DevIdentity signer = DevIdentity.generate(KeyType.P256);
    DevIdentity claimed = DevIdentity.generate(KeyType.P256);
    Map<String, Object> claims = signer.claims(server.config().serviceDid(), NSID, Instant.now());
    claims.put("iss", claimed.did().value());
    String token = signer.sign(claims);
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/xrpc/" + NSID))
        .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + token)
        .header("X-Forwarded-For", forwardedFor).GET().build());
  }
}
