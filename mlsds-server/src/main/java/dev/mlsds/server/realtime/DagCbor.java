package dev.mlsds.server.realtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;
import dev.mlsds.server.xrpc.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The AT Protocol event-stream framing of the WebSocket ({@code subscribeConvoEvents}): each frame is one
 * binary WebSocket message holding two DAG-CBOR objects back to back, a header {@code {op, t}} and a body.
 * {@code op: 1} is an event whose type is {@code t} ({@code "#messageEvent"}); {@code op: -1} is an error,
 * with no {@code t} and a body {@code {error, message}}, after which the server closes.
 *
 * <p>DAG-CBOR's rules, which plain CBOR leaves open: map keys sorted by encoded length, then bytewise (so
 * {@code t} before {@code op}); definite lengths only (Jackson chunks long strings written with
 * {@code writeString} into indefinite-length strings, so text goes through {@code writeUTF8String}); the
 * shortest integer forms; no floats. The atproto JSON data model maps over as the spec says: an object
 * that is exactly {@code {"$bytes": base64}} becomes a CBOR byte string. Anything else that DAG-CBOR cannot
 * carry unambiguously (a float, a {@code $link}) is refused rather than sent wrong.
 */
final class DagCbor {
  private static final CBORFactory FACTORY = CBORFactory.builder()
      .enable(CBORGenerator.Feature.WRITE_MINIMAL_INTS).build();

  /** DAG-CBOR's map key order: shorter UTF-8 encodings first, then bytewise (unsigned). */
  static final Comparator<byte[]> KEY_ORDER = (a, b) -> a.length != b.length
      ? Integer.compare(a.length, b.length) : Arrays.compareUnsigned(a, b);

  private DagCbor() {}

  /** An event frame: header {@code {op: 1, t: "#<type>"}}, then {@code body} (a JSON object). */
  static byte[] event(String type, String bodyJson) {
    return concat(encode(Header.EVENT, "#" + type), encode(read(bodyJson)));
  }

  /** An error frame: header {@code {op: -1}}, then {@code {error, message}}. */
  static byte[] error(String error, String message) {
    return concat(encode(Header.ERROR, null), encode(Json.MAPPER.createObjectNode().put("error", error)
        .put("message", message)));
  }

  private enum Header { EVENT, ERROR }

  private static byte[] encode(Header kind, String t) {
    return write(g -> {
      if (kind == Header.EVENT) {
        g.writeStartObject(null, 2);
        g.writeFieldName("t"); // length 1 sorts before "op"
        text(g, t);
        g.writeFieldName("op");
        g.writeNumber(1);
      } else {
        g.writeStartObject(null, 1);
        g.writeFieldName("op");
        g.writeNumber(-1);
      }
      g.writeEndObject();
    });
  }

  /** {@code value} (the atproto JSON data model) as DAG-CBOR. */
  static byte[] encode(JsonNode value) {
    return write(g -> value(g, value));
  }

  private interface Body {
    void write(CBORGenerator g) throws IOException;
  }

  private static byte[] write(Body body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (CBORGenerator g = FACTORY.createGenerator(out)) {
      body.write(g);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static void value(CBORGenerator g, JsonNode v) throws IOException {
    switch (v.getNodeType()) {
      case OBJECT -> object(g, v);
      case ARRAY -> {
        g.writeStartArray(null, v.size());
        for (JsonNode e : v) {
          value(g, e);
        }
        g.writeEndArray();
      }
      case STRING -> text(g, v.textValue());
      case NUMBER -> {
        if (!v.canConvertToExactIntegral() || !v.canConvertToLong() || v.isFloatingPointNumber()) {
          throw new IllegalArgumentException("DAG-CBOR events carry no floats: " + v);
        }
        g.writeNumber(v.longValue());
      }
      case BOOLEAN -> g.writeBoolean(v.booleanValue());
      case NULL -> g.writeNull();
      default -> throw new IllegalArgumentException("no DAG-CBOR form for " + v.getNodeType());
    }
  }

  private static void object(CBORGenerator g, JsonNode o) throws IOException {
    if (o.size() == 1 && o.has("$bytes")) {
      byte[] raw = Base64.getDecoder().decode(o.get("$bytes").asText());
      g.writeBinary(raw, 0, raw.length);
      return;
    }
    if (o.has("$link")) {
      throw new IllegalArgumentException("CID links are not part of the event streams");
    }
    List<Map.Entry<byte[], JsonNode>> fields = new ArrayList<>(o.size());
    for (Map.Entry<String, JsonNode> f : o.properties()) {
      fields.add(Map.entry(f.getKey().getBytes(StandardCharsets.UTF_8), f.getValue()));
    }
    fields.sort(Map.Entry.comparingByKey(KEY_ORDER));
    g.writeStartObject(null, fields.size());
    for (Map.Entry<byte[], JsonNode> f : fields) {
      g.writeFieldName(new String(f.getKey(), StandardCharsets.UTF_8));
      value(g, f.getValue());
    }
    g.writeEndObject();
  }

  /** A definite-length text string of any size. */
  private static void text(CBORGenerator g, String s) throws IOException {
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    g.writeUTF8String(utf8, 0, utf8.length);
  }

  private static JsonNode read(String json) {
    try {
      return Json.MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("event body is not JSON", e);
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
