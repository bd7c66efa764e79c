package dev.mlsds.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mlsds.server.xrpc.Json;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A strict DAG-CBOR reader written for the tests, independent of Jackson's CBOR module (which the server
 * encodes with): it refuses everything DAG-CBOR forbids — indefinite lengths, integers not in their
 * shortest form, floats, map keys that are not text or not in canonical order (length first, then
 * bytewise) or repeated, tags other than 42, simple values other than false/true/null, invalid UTF-8,
 * trailing bytes. Byte strings come back as the JSON data model's {@code {"$bytes": …}} (as the server's
 * JSON writes them), so a decoded event compares equal to the same event sent as JSON.
 */
final class StrictDagCbor {
  private final byte[] in;
  private int at;

  private StrictDagCbor(byte[] in) {
    this.in = in;
  }

  /** The one item {@code data} holds. */
  static JsonNode decode(byte[] data) {
    StrictDagCbor r = new StrictDagCbor(data);
    JsonNode v = r.item();
    r.end();
    return v;
  }

  /** An XRPC event-stream frame: a header object, then a body object, and nothing after. */
  record Frame(JsonNode header, JsonNode body) {}

  static Frame frame(byte[] data) {
    StrictDagCbor r = new StrictDagCbor(data);
    JsonNode header = r.item();
    JsonNode body = r.item();
    r.end();
    if (!header.isObject() || !body.isObject()) {
      throw new IllegalArgumentException("a frame is two maps");
    }
    return new Frame(header, body);
  }

  private void end() {
    if (at != in.length) {
      throw new IllegalArgumentException("trailing bytes at " + at);
    }
  }

  private int u8() {
    if (at >= in.length) {
      throw new IllegalArgumentException("truncated");
    }
    return in[at++] & 0xff;
  }

  /** The argument of an initial byte, refusing non-shortest forms and indefinite lengths. */
  private long argument(int info) {
    if (info < 24) {
      return info;
    }
    int n = switch (info) {
      case 24 -> 1;
      case 25 -> 2;
      case 26 -> 4;
      case 27 -> 8;
      case 31 -> throw new IllegalArgumentException("indefinite length at " + (at - 1));
      default -> throw new IllegalArgumentException("reserved additional info " + info);
    };
    long v = 0;
    for (int i = 0; i < n; i++) {
      v = (v << 8) | u8();
    }
    long min = switch (n) {
      case 1 -> 24;
      case 2 -> 0x100;
      case 4 -> 0x10000;
      default -> 0x100000000L;
    };
    if (n == 8 ? Long.compareUnsigned(v, min) < 0 : v < min) {
      throw new IllegalArgumentException("integer not in its shortest form at " + at);
    }
    if (v < 0) {
      throw new IllegalArgumentException("integer beyond 2^63");
    }
    return v;
  }

  private byte[] take(long n) {
    if (n > in.length - at) {
      throw new IllegalArgumentException("truncated");
    }
    byte[] out = Arrays.copyOfRange(in, at, at + (int) n);
    at += (int) n;
    return out;
  }

  private JsonNode item() {
    int initial = u8();
    int major = initial >> 5;
    int info = initial & 0x1f;
    JsonNodeFactory f = JsonNodeFactory.instance;
    switch (major) {
      case 0:
        return number(argument(info));
      case 1:
        return number(-1 - argument(info));
      case 2:
        return Json.MAPPER.valueToTree(take(argument(info)));
      case 3:
        return f.textNode(utf8(take(argument(info))));
      case 4: {
        long n = argument(info);
        ArrayNode a = f.arrayNode();
        for (long i = 0; i < n; i++) {
          a.add(item());
        }
        return a;
      }
      case 5: {
        long n = argument(info);
        ObjectNode o = f.objectNode();
        byte[] previous = null;
        for (long i = 0; i < n; i++) {
          int keyStart = at;
          int k = u8();
          if (k >> 5 != 3) {
            throw new IllegalArgumentException("map key is not a text string at " + keyStart);
          }
          byte[] key = take(argument(k & 0x1f));
          if (previous != null && compareKeys(previous, key) >= 0) {
            throw new IllegalArgumentException("map keys out of canonical order (or repeated): "
                + new String(previous, StandardCharsets.UTF_8) + " then " + new String(key, StandardCharsets.UTF_8));
          }
          previous = key;
          o.set(utf8(key), item());
        }
        return o;
      }
      case 6: {
        long tag = argument(info);
        if (tag != 42) {
          throw new IllegalArgumentException("tag " + tag + " is not allowed in DAG-CBOR");
        }
        throw new IllegalArgumentException("CID link where none is expected");
      }
      default:
        return switch (info) {
          case 20 -> f.booleanNode(false);
          case 21 -> f.booleanNode(true);
          case 22 -> f.nullNode();
          case 25, 26, 27 -> throw new IllegalArgumentException("float at " + (at - 1));
          default -> throw new IllegalArgumentException("simple value " + info + " is not allowed");
        };
    }
  }

  /** As Jackson reads JSON numbers: an int node when it fits, so decoded events equal their JSON form. */
  private static JsonNode number(long v) {
    return v == (int) v ? JsonNodeFactory.instance.numberNode((int) v) : JsonNodeFactory.instance.numberNode(v);
  }

  private static int compareKeys(byte[] a, byte[] b) {
    return a.length != b.length ? Integer.compare(a.length, b.length) : Arrays.compareUnsigned(a, b);
  }

  private static String utf8(byte[] b) {
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("invalid UTF-8 in a text string");
    }
  }
}
