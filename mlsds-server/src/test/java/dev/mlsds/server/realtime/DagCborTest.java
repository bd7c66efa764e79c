package dev.mlsds.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.xrpc.Json;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The WebSocket's DAG-CBOR frames, read back with the test's own strict decoder ({@link StrictDagCbor}, not
 * Jackson): canonical key order, definite lengths even for long strings, shortest integers, bytes as byte
 * strings, the header {op, t} and error frames {op: -1}.
 */
class DagCborTest {
  @Test
  void anEventFrameIsAHeaderThenTheBodyInCanonicalForm() {
    byte[] cipher = new byte[1000];
    new Random(1).nextBytes(cipher);
    String body = Json.write(java.util.Map.of("cursor", "12.1", "message", java.util.Map.of(
        "id", "m1", "convoId", "ab", "seq", 12, "epoch", 3, "ciphertext", cipher, "createdAt", "2026-12-01T00:00:00.000Z",
        "sender", "did:plc:x", "contentType", "application")));
    StrictDagCbor.Frame f = StrictDagCbor.frame(DagCbor.event("messageEvent", body));
    assertThat(f.header()).isEqualTo(Json.MAPPER.createObjectNode().put("t", "#messageEvent").put("op", 1));
    assertThat(f.body()).isEqualTo(json(body));
    assertThat(java.util.Base64.getDecoder().decode(f.body().get("message").get("ciphertext").get("$bytes").asText()))
        .isEqualTo(cipher);
  }

  @Test
  void theHeaderIsExactlyTheCanonicalBytes() {
    // {t: "#infoEvent", op: 1}: "t" (1 byte) sorts before "op" (2 bytes).
    byte[] frame = DagCbor.event("infoEvent", "{\"cursor\":\"3\",\"info\":\"ready\"}");
    assertThat(HexFormat.of().formatHex(frame)).startsWith("a2" + "6174" + "6a23696e666f4576656e74" + "626f70" + "01");
    assertThat(HexFormat.of().formatHex(DagCbor.error("ConsumerTooSlow", "m"))).startsWith("a1" + "626f70" + "20");
  }

  @Test
  void keysAreOrderedByLengthThenBytes() {
    JsonNode v = json("{\"bb\":1,\"a\":2,\"ab\":3,\"ccc\":4,\"b\":5,\"nested\":{\"zz\":1,\"y\":[{\"b\":1,\"a\":2}]}}");
    byte[] out = DagCbor.encode(v);
    JsonNode back = StrictDagCbor.decode(out); // refuses any other order
    assertThat(back).isEqualTo(v);
    assertThat(back.fieldNames()).toIterable().containsExactly("a", "b", "ab", "bb", "ccc", "nested");
  }

  @Test
  void longStringsAndBytesHaveDefiniteLengths() {
    String big = "x".repeat(100_000) + "é";
    byte[] blob = new byte[70_000];
    JsonNode v = Json.MAPPER.createObjectNode().put("s", big).set("b", Json.MAPPER.valueToTree(blob));
    assertThat(StrictDagCbor.decode(DagCbor.encode(v))).isEqualTo(v);
  }

  @Test
  void integersTakeTheirShortestForm() {
    for (long n : new long[] {0, 23, 24, 255, 256, 65535, 65536, 4294967295L, 4294967296L, Long.MAX_VALUE, -1, -24, -25,
        -256, -257, Long.MIN_VALUE + 1}) {
      JsonNode v = Json.MAPPER.createObjectNode().put("n", n);
      assertThat(StrictDagCbor.decode(DagCbor.encode(v)).get("n").asLong()).as("%d", n).isEqualTo(n);
    }
    assertThat(DagCbor.encode(Json.MAPPER.getNodeFactory().numberNode(23))).containsExactly(0x17);
    assertThat(DagCbor.encode(Json.MAPPER.getNodeFactory().numberNode(24))).containsExactly(0x18, 24);
  }

  @Test
  void floatsAndLinksAreRefusedRatherThanSentWrong() {
    assertThatThrownBy(() -> DagCbor.encode(json("{\"x\":1.5}"))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> DagCbor.encode(json("{\"x\":{\"$link\":\"bafy\"}}"))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anErrorFrameIsOpMinusOneWithErrorAndMessage() {
    StrictDagCbor.Frame f = StrictDagCbor.frame(DagCbor.error("ConsumerTooSlow", "resume from the last cursor"));
    assertThat(f.header()).isEqualTo(Json.MAPPER.createObjectNode().put("op", -1));
    assertThat(f.body()).isEqualTo(json("{\"error\":\"ConsumerTooSlow\",\"message\":\"resume from the last cursor\"}"));
  }

  @Test
  void theStrictDecoderRefusesWhatDagCborForbids() {
    HexFormat hex = HexFormat.of();
    assertThatThrownBy(() -> StrictDagCbor.decode(hex.parseHex("7f61616162ff"))).hasMessageContaining("indefinite");
    assertThatThrownBy(() -> StrictDagCbor.decode(hex.parseHex("1817"))).hasMessageContaining("shortest");
    assertThatThrownBy(() -> StrictDagCbor.decode(hex.parseHex("a2616201616101"))).hasMessageContaining("order");
    assertThatThrownBy(() -> StrictDagCbor.decode(hex.parseHex("a2616101616101"))).hasMessageContaining("order");
    assertThatThrownBy(() -> StrictDagCbor.decode(hex.parseHex("fb3ff8000000000000"))).hasMessageContaining("float");
    assertThatThrownBy(() -> StrictDagCbor.decode(hex.parseHex("0102"))).hasMessageContaining("trailing");
  }

  private static JsonNode json(String s) {
    try {
      return Json.MAPPER.readTree(s);
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
