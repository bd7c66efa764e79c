package dev.mlsds.server.realtime;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.server.xrpc.Json;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Conversations for stream tests, driven over HTTP like a client would (MLS bytes from the codec's test
 * builders: the server reads headers only). Every call may go to any node: {@code via} is the node's HTTP
 * client, the user's tokens are valid on all nodes of one service.
 */
final class RealtimeFixture {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A conversation and the epoch the test has moved it to. */
  static final class Convo {
    final byte[] groupId;
    volatile long epoch;

    Convo(byte[] groupId) {
      this.groupId = groupId;
    }

    String id() {
      return HexFormat.of().formatHex(groupId);
    }
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  static Http.Response post(Http via, TestUser u, String method, Map<String, ?> body) {
    return via.post("/xrpc/" + TestUser.NS + method, u.token(method), Json.write(body));
  }

  static Convo create(Http via, TestUser creator) {
    byte[] g = new byte[16];
    RANDOM.nextBytes(g);
    ok(post(via, creator, "createConvo", Map.of("groupId", HexFormat.of().formatHex(g), "cipherSuite", SUITE.name())));
    return new Convo(g);
  }

  /** Publishes a KeyPackage for each user, claims them and adds them with one commit bundle. */
  static void add(Http via, TestUser adder, Convo c, TestUser... users) {
    List<byte[]> kps = new ArrayList<>();
    List<String> dids = new ArrayList<>();
    for (TestUser u : users) {
      byte[] kp = u.device().keyPackage();
      ok(post(via, u, "publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp))))));
      dids.add(u.did().value());
    }
    StringBuilder q = new StringBuilder();
    for (String d : dids) {
      q.append(q.isEmpty() ? '?' : '&').append("dids=").append(java.net.URLEncoder.encode(d, java.nio.charset.StandardCharsets.UTF_8));
    }
    JsonNode claimed = ok(via.get("/xrpc/" + TestUser.NS + "getKeyPackages" + q, adder.token("getKeyPackages"))).json();
    for (JsonNode k : claimed.get("keyPackages")) {
      kps.add(Base64.getUrlDecoder().decode(k.get("keyPackage").asText()));
    }
    assertThat(kps).hasSize(users.length);
    byte[] commit = TestMessages.commit(c.groupId, c.epoch, 0, kps, List.of(), false);
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    ok(post(via, adder, "addMembers", Map.of("convoId", c.id(), "didList", dids, "commit", bytes(commit),
        "welcome", bytes(welcome))));
    c.epoch++;
  }

  /** Sends an application message; returns its seq. */
  static long send(Http via, TestUser u, Convo c) {
    return ok(post(via, u, "sendMessage", Map.of("convoId", c.id(),
        "ciphertext", bytes(TestMessages.privateMessage(c.groupId, c.epoch, ContentType.APPLICATION)))))
        .json().get("seq").asLong();
  }

  /** Sends an application message with {@code size} bytes of ciphertext; returns its seq. */
  static long sendLarge(Http via, TestUser u, Convo c, int size) {
    byte[] filler = new byte[size];
    RANDOM.nextBytes(filler);
    byte[] msg = new MlsWriter().u16(KeyPackage.MLS10).u16(WireFormat.MLS_PRIVATE_MESSAGE.value())
        .opaque(c.groupId).u64(c.epoch).u8(ContentType.APPLICATION.value()).opaque(new byte[0])
        .opaque(new byte[32]).opaque(filler).toByteArray();
    return ok(post(via, u, "sendMessage", Map.of("convoId", c.id(), "ciphertext", bytes(msg))))
        .json().get("seq").asLong();
  }

  /** Removes {@code target} with a remove commit; returns the commit's seq. */
  static long remove(Http via, TestUser admin, Convo c, TestUser target) {
    byte[] commit = TestMessages.commit(c.groupId, c.epoch, 0, List.of(), List.of(1L), true);
    ok(post(via, admin, "removeMember", Map.of("convoId", c.id(), "targetDid", target.did().value(),
        "commit", bytes(commit))));
    c.epoch++;
    return latestSeq(via, admin, c);
  }

  static long latestSeq(Http via, TestUser member, Convo c) {
    JsonNode m = ok(via.get("/xrpc/" + TestUser.NS + "getMessages?convoId=" + c.id() + "&sinceSeq=0&limit=500",
        member.token("getMessages"))).json();
    return m.get("lastSeq").asLong();
  }
  /**
   * Resets {@code c} (at its epoch) to a new group by {@code admin} (leaf 0), re-adding {@code users} from fresh
   * KeyPackages; returns the new group id. Messages of the new group are then built with it.
   */
  static byte[] reset(Http via, TestUser admin, Convo c, TestUser... users) {
    List<byte[]> kps = new ArrayList<>();
    List<String> dids = new ArrayList<>();
    for (TestUser u : users) {
      byte[] kp = u.device().keyPackage();
      ok(post(via, u, "publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp))))));
      ok(via.get("/xrpc/" + TestUser.NS + "getKeyPackages?dids=" + java.net.URLEncoder.encode(u.did().value(),
          java.nio.charset.StandardCharsets.UTF_8), admin.token("getKeyPackages")));
      kps.add(kp);
      dids.add(u.did().value());
    }
    byte[] g2 = new byte[16];
    RANDOM.nextBytes(g2);
    byte[] commit = TestMessages.commit(g2, 0, 0, kps, List.of(), true);
    byte[] welcome = TestMessages.welcome(SUITE, kps.stream().map(k -> KeyPackage.decode(k).ref()).toList());
    ok(post(via, admin, "resetGroup", Map.of("convoId", c.id(), "fromGroupId", c.id(), "fromEpoch", c.epoch,
        "groupId", HexFormat.of().formatHex(g2), "didList", dids, "commit", bytes(commit), "welcome", bytes(welcome),
        "reason", "epoch " + c.epoch + " is unusable")));
    c.epoch = 1;
    return g2;
  }
}
