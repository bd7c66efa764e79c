package dev.mlsds.server.limits;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestUser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/** Helpers shared by the database-fault tests (review M2): one member, one conversation, big messages. */
final class DatabaseFaultsFixture {
  final Server server;
  final TestUser alice;
  final byte[] groupId = new byte[16];
  final List<Long> acknowledged = new ArrayList<>();

  DatabaseFaultsFixture(Server server) {
    this.server = server;
    this.alice = TestUser.on(server);
    new SecureRandom().nextBytes(groupId);
    Http.Response r = alice.post("createConvo", Map.of("groupId", convoId(),
        "cipherSuite", CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.name()));
    assertThat(r.status()).as(r.body()).isEqualTo(200);
  }

  String convoId() {
    return HexFormat.of().formatHex(groupId);
  }

  /** Sends a PrivateMessage with {@code size} bytes of ciphertext; a 200 is remembered as acknowledged. */
  Http.Response send(int size) {
    byte[] msg = new MlsWriter().u16(1).u16(dev.mlsds.codec.WireFormat.MLS_PRIVATE_MESSAGE.value()).opaque(groupId).u64(0)
        .u8(ContentType.APPLICATION.value()).opaque(new byte[0]).opaque(new byte[32]).opaque(new byte[size])
        .toByteArray();
    Http.Response r = alice.post("sendMessage", Map.of("convoId", convoId(), "ciphertext", bytes(msg)));
    if (r.status() == 200) {
      acknowledged.add(r.json().get("seq").asLong());
    }
    return r;
  }

  /** The seqs getMessages returns, paging through the log. */
  List<Long> storedSeqs() {
    List<Long> seqs = new ArrayList<>();
    long since = 0;
    while (true) {
      Http.Response r = alice.get("getMessages", "convoId", convoId(), "sinceSeq", Long.toString(since));
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      r.json().get("messages").forEach(m -> seqs.add(m.get("seq").asLong()));
      if (!r.json().get("hasMore").asBoolean()) {
        return seqs;
      }
      since = seqs.get(seqs.size() - 1);
    }
  }

  static void assertUnavailable(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(503);
    assertThat(r.error()).isEqualTo("Unavailable");
    assertThat(r.headers().firstValue("Retry-After")).isPresent();
  }

  /** Status and body of a health endpoint. */
  Http.Response health(String path) {
    try {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + server.port() + path)).build(), HttpResponse.BodyHandlers.ofString());
      return new Http.Response(r.statusCode(), r.body(), r.headers());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
