package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The dev identity file and the {@code mlsds token} command built on it. */
class DevIdentityTest {
  @TempDir Path dir;

  @Test
  void identityFileIsCreatedOnceThenReused() throws Exception {
    Path file = dir.resolve("sub/dev-identity.json");
    DevIdentity first = DevIdentity.loadOrCreate(file, KeyType.P256);
    DevIdentity again = DevIdentity.loadOrCreate(file, KeyType.K256);
    assertThat(again.did()).isEqualTo(first.did());
    assertThat(again.keyType()).isEqualTo(KeyType.P256);
    assertThat(Files.getPosixFilePermissions(file)).containsExactlyInAnyOrder(
        PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    assertThat(first.toString()).doesNotContain(Files.readString(file).split("\"privateKey\":\"")[1].substring(0, 16));
  }

  @Test
  void aFileWhoseDidKeyDoesNotMatchItsKeyIsRefused() throws Exception {
    Path file = dir.resolve("id.json");
    DevIdentity.generate(KeyType.K256).save(file);
    String other = DevIdentity.generate(KeyType.K256).did().value();
    Files.writeString(file, Files.readString(file).replaceFirst("did:key:[A-Za-z0-9]+", other));
    assertThatThrownBy(() -> DevIdentity.load(file)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not match");
  }

  @Test
  void tokenCommandPrintsATokenForTheServiceAndTheDid() {
    String token = run("token", "--data-dir", dir.toString(), "blue.catbird.mls.getConvos");
    String did = run("token", "--data-dir", dir.toString(), "--did");
    assertThat(did).startsWith("did:key:zQ3s"); // secp256k1 by default
    ServiceToken parsed = ServiceToken.parse(token);
    assertThat(parsed.iss()).isEqualTo(did);
    assertThat(parsed.aud()).isEqualTo("did:web:localhost");
    assertThat(parsed.lxm()).isEqualTo("blue.catbird.mls.getConvos");
    assertThat(parsed.exp() - parsed.iat()).isEqualTo(DevIdentity.TOKEN_LIFETIME_SECONDS);
    assertThat(AtprotoKey.fromMultikey(did.substring("did:key:".length()))
        .verify(parsed.signingInput(), parsed.signature())).isTrue();
    assertThat(new String(Base64.getUrlDecoder().decode(token.split("\\.")[0]))).contains("\"ES256K\"");
    assertThat(Files.exists(dir.resolve("dev-identity.json"))).isTrue();
  }

  @Test
  void tokenCommandWithoutNsidIsAUsageError() {
    assertThat(new CommandLine(new Main()).setErr(new PrintWriter(new StringWriter()))
        .execute("token", "--data-dir", dir.toString())).isEqualTo(2);
  }

  private static String run(String... args) {
    StringWriter out = new StringWriter();
    int code = new CommandLine(new Main()).setOut(new PrintWriter(out)).execute(args);
    assertThat(code).isZero();
    return out.toString().trim();
  }
}
