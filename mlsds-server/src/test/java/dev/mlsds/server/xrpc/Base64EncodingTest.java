package dev.mlsds.server.xrpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The byte encodings of docs/lexicons.md: {@code $bytes} out is standard base64 with {@code =} padding (what
 * Foundation's {@code Data(base64Encoded:)} decodes); binary the 2025 lexicon types as a string is base64url
 * without padding; every input accepts the four variants (standard or URL alphabet, padded or not), both as
 * {@code {"$bytes": …}} and as a plain string.
 */
class Base64EncodingTest {
  /** Lengths of every residue mod 3, and bytes that produce '+' and '/' (or '-' and '_'). */
  private static byte[] sample(int length) {
    byte[] b = new byte[length];
    for (int i = 0; i < length; i++) {
      b[i] = (byte) (0xfb + i * 7);
    }
    return b;
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 31, 32, 33})
  void bytesAreWrittenPaddedStandard(int length) throws Exception {
    byte[] value = sample(length);
    JsonNode out = Json.MAPPER.readTree(Json.write(Map.of("v", value))).get("v");
    String text = out.get("$bytes").textValue();
    assertThat(text).isEqualTo(Base64.getEncoder().encodeToString(value));
    assertThat(text.length() % 4).isZero();
    assertThat(text).doesNotContain("-", "_");
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 31, 32, 33})
  void seedStringsAreBase64urlUnpadded(int length) {
    byte[] value = sample(length);
    String text = Json.base64url(value);
    assertThat(text).doesNotContain("=", "+", "/");
    assertThat(Base64.getUrlDecoder().decode(text)).isEqualTo(value);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 32, 33})
  void everyVariantIsAcceptedAsDollarBytesAndAsString(int length) {
    byte[] value = sample(length);
    String[] variants = {
        Base64.getEncoder().encodeToString(value),
        Base64.getEncoder().withoutPadding().encodeToString(value),
        Base64.getUrlEncoder().encodeToString(value),
        Base64.getUrlEncoder().withoutPadding().encodeToString(value)};
    for (String v : variants) {
      JsonNode asString = JsonNodeFactory.instance.textNode(v);
      JsonNode asBytes = JsonNodeFactory.instance.objectNode().put("$bytes", v);
      assertThat(XrpcInput.decodeBytes(asString, "f")).as(v).isEqualTo(value);
      assertThat(XrpcInput.decodeBytes(asBytes, "f")).as(v).isEqualTo(value);
    }
  }

  @Test
  void garbageIsInvalidRequest() {
    assertThatThrownBy(() -> XrpcInput.decodeBytes(JsonNodeFactory.instance.textNode("a*b"), "f"))
        .isInstanceOfSatisfying(XrpcException.class, e -> assertThat(e.error()).isEqualTo(XrpcError.InvalidRequest));
    assertThatThrownBy(() -> XrpcInput.decodeBytes(JsonNodeFactory.instance.numberNode(3), "f"))
        .isInstanceOf(XrpcException.class);
  }
}
