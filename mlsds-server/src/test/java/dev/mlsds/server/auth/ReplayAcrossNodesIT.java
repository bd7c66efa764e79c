package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Two nodes sharing one PostgreSQL: a token accepted by one is a replay on the other. */
class ReplayAcrossNodesIT {
  static final String WHOAMI = "test.whoami";

  static Server node(String dbUrl) {
    Server s = Wiring.build(TestServers.config(dbUrl), Clock.systemUTC());
    s.router().query(WHOAMI, call -> Map.of("did", call.caller().value()));
    return s.start();
  }

  @Test
  void aTokenReplayedOnAnotherNodeIsRefused() {
    try (TestDatabases.Postgres pg = TestDatabases.postgres()) {
      Server a = node(pg.url());
      Server b = node(pg.url());
      try {
        DevIdentity alice = DevIdentity.generate(KeyType.K256);
        String aud = a.config().serviceDid();
        String token = alice.token(aud, WHOAMI);

        assertThat(new Http(a.port()).get("/xrpc/" + WHOAMI, token).status()).isEqualTo(200);
        Http.Response replay = new Http(b.port()).get("/xrpc/" + WHOAMI, token);
        assertThat(replay.status()).isEqualTo(401);
        assertThat(replay.error()).isEqualTo("TokenReplayed");
        assertThat(new Http(b.port()).get("/xrpc/" + WHOAMI, alice.token(aud, WHOAMI)).status()).isEqualTo(200);
      } finally {
        a.stop();
        b.stop();
      }
    }
  }
}
