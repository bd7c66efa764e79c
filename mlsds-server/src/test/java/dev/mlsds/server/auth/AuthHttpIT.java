package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Config;
import dev.mlsds.server.Main;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Service authentication on a complete node built by {@link Wiring} (SQLite): the verifier the node
 * really runs, its error envelope over HTTP, and the caller DID handed to handlers.
 */
class AuthHttpIT {
  static final String WHOAMI = "test.whoami";
  static FakeDirectory directory;
  static Server server;
  static Http http;
  static String aud;

  @BeforeAll
  static void start() {
    directory = new FakeDirectory();
    Config c = TestServers.config(TestDatabases.sqlite());
    server = Wiring.build(new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(),
        true, directory.url(), List.of(), null, c.limits()), Clock.systemUTC());
    server.router().query(WHOAMI, call -> Map.of("did", call.caller().value()));
    server.start();
    http = new Http(server.port());
    aud = server.config().serviceDid();
  }

  @AfterAll
  static void stop() {
    server.stop();
    directory.close();
  }

  Http.Response whoami(String token) {
    return http.get("/xrpc/" + WHOAMI, token);
  }

  @Test
  void noTokenIs401AuthenticationRequired() {
    Http.Response r = whoami(null);
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.error()).isEqualTo("AuthenticationRequired");
  }

  @Test
  void aDidKeyTokenIdentifiesTheCallerOnceOnly() {
    DevIdentity alice = DevIdentity.generate(KeyType.P256);
    String token = alice.token(aud, WHOAMI);
    Http.Response r = whoami(token);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.json().path("did").asText()).isEqualTo(alice.did().value());

    Http.Response replay = whoami(token);
    assertThat(replay.status()).isEqualTo(401);
    assertThat(replay.error()).isEqualTo("TokenReplayed");
  }

  @Test
  void aDidPlcTokenIsVerifiedThroughTheConfiguredDirectory() {
    DevIdentity bob = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    directory.publish(bob.did(), bob.publicKey());
    Http.Response r = whoami(bob.token(aud, WHOAMI));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.json().path("did").asText()).isEqualTo(bob.did().value());
  }

  @Test
  void badTokensGetTheirNamedErrors() {
    DevIdentity alice = DevIdentity.generate(KeyType.K256);
    assertThat(whoami(alice.token(aud, "blue.catbird.mls.getConvos")).error()).isEqualTo("BadTokenMethod");
    assertThat(whoami(alice.token("did:web:elsewhere.example", WHOAMI)).error()).isEqualTo("BadTokenAudience");
    assertThat(whoami(alice.token(aud, WHOAMI, Instant.now().minusSeconds(120))).error()).isEqualTo("ExpiredToken");
    Http.Response garbage = whoami("not.a.token");
    assertThat(garbage.status()).isEqualTo(401);
    assertThat(garbage.error()).isEqualTo("InvalidToken");
  }

  @Test
  void theTokenCommandMintsATokenThisNodeAccepts(@TempDir Path dir) {
    StringWriter out = new StringWriter();
    int code = new CommandLine(new Main()).setOut(new PrintWriter(out))
        .execute("token", "--data-dir", dir.toString(), WHOAMI);
    assertThat(code).isZero();
    Http.Response r = whoami(out.toString().trim());
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.json().path("did").asText()).isEqualTo(DevIdentity.load(dir.resolve("dev-identity.json")).did().value());
  }
}
