package dev.mlsds.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * How a Swift client generated from the seed lexicons (Petrel of 2025-10-31 with Foundation's {@code JSONDecoder})
 * reads a response, as strictly as it does. Every failure is a {@link SeedDecodeException} naming the JSON path, so a
 * test that decodes a response through these methods fails exactly where that client would have failed.
 *
 * <ul>
 *   <li>A required field must be present and not {@code null} ({@code container.decode}); an optional one may be
 *       absent or {@code null}, but if it has a value that value must decode ({@code decodeIfPresent} throws on a
 *       wrong type). Unknown fields are ignored.
 *   <li>{@code string} and {@code integer}/{@code boolean} are exact JSON types: no number as a string, no
 *       {@code 1.0} for an integer, no {@code "true"}.
 *   <li>{@code bytes} is an object {@code {"$bytes": "…"}} whose text Foundation's {@code Data(base64Encoded:)}
 *       must accept ({@link #foundationBase64}): standard alphabet, {@code =} padding to a multiple of 4, nothing
 *       else. Unpadded base64 fails, which is why it broke 2 of 3 values.
 *   <li>{@code did} goes through Petrel's {@code DID(didString:)}: {@code did:}, a method and an authority.
 *   <li>{@code datetime} must parse as RFC 3339 with a time zone.
 *   <li>A binary field the seed types as {@code string} is read by the app with its base64url helper
 *       ({@link #appBase64Url}): {@code -}/{@code _} mapped to {@code +}/{@code /}, {@code =} appended to a multiple
 *       of 4, then Foundation's strict decoder.
 * </ul>
 */
final class SeedDecoding {
  private SeedDecoding() {}

  /** A response the seed-era client could not decode; the message names the path and the rule. */
  static final class SeedDecodeException extends RuntimeException {
    SeedDecodeException(String path, String message) {
      super(path + ": " + message);
    }
  }

  // ---- base64 as the client's two decoders read it ------------------------------------------------------

  /**
   * Foundation's {@code Data(base64Encoded:)} with default options: the standard alphabet only, a length that is a
   * multiple of 4, and {@code =} only as the last one or two characters. Returns null where Foundation returns nil.
   */
  static byte[] foundationBase64(String s) {
    if (s == null || s.length() % 4 != 0) {
      return null;
    }
    int pad = 0;
    while (pad < s.length() && s.charAt(s.length() - 1 - pad) == '=') {
      pad++;
    }
    if (pad > 2) {
      return null;
    }
    for (int i = 0; i < s.length() - pad; i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
      if (!ok) {
        return null;
      }
    }
    try {
      return Base64.getDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * The Catbird app's {@code Data(base64URLEncoded:)}: URL alphabet mapped to the standard one, {@code =} appended
   * until the length is a multiple of 4, then {@link #foundationBase64}. It accepts both alphabets, padded or not.
   */
  static byte[] appBase64Url(String s) {
    if (s == null) {
      return null;
    }
    StringBuilder b = new StringBuilder(s.replace('-', '+').replace('_', '/'));
    while (b.length() % 4 != 0) {
      b.append('=');
    }
    return foundationBase64(b.toString());
  }

  /** What the app sends for a binary {@code string} field: base64url without padding ({@code base64UrlNoPad}). */
  static String base64UrlNoPad(byte[] data) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(data);
  }

  /** What Petrel's {@code Bytes.encode} sends in {@code $bytes}: Foundation's {@code base64EncodedString()}. */
  static String foundationEncode(byte[] data) {
    return Base64.getEncoder().encodeToString(data);
  }

  // ---- fields ----------------------------------------------------------------------------------------

  static JsonNode object(JsonNode n, String path) {
    if (n == null || !n.isObject()) {
      throw new SeedDecodeException(path, "expected an object, got " + kind(n));
    }
    return n;
  }

  private static JsonNode required(JsonNode obj, String field, String path) {
    JsonNode v = object(obj, path).get(field);
    if (v == null || v.isNull()) {
      throw new SeedDecodeException(path + "." + field, "required field missing");
    }
    return v;
  }

  /** The value of an optional field, or null when it is absent or JSON null. */
  private static JsonNode optional(JsonNode obj, String field, String path) {
    JsonNode v = object(obj, path).get(field);
    return v == null || v.isNull() ? null : v;
  }

  static String string(JsonNode obj, String field, String path) {
    return asString(required(obj, field, path), path + "." + field);
  }

  static String optString(JsonNode obj, String field, String path) {
    JsonNode v = optional(obj, field, path);
    return v == null ? null : asString(v, path + "." + field);
  }

  private static String asString(JsonNode v, String path) {
    if (!v.isTextual()) {
      throw new SeedDecodeException(path, "expected a string, got " + kind(v));
    }
    return v.textValue();
  }

  static long integer(JsonNode obj, String field, String path) {
    return asInteger(required(obj, field, path), path + "." + field);
  }

  static Long optInteger(JsonNode obj, String field, String path) {
    JsonNode v = optional(obj, field, path);
    return v == null ? null : asInteger(v, path + "." + field);
  }

  private static long asInteger(JsonNode v, String path) {
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw new SeedDecodeException(path, "expected an integer, got " + kind(v));
    }
    return v.longValue();
  }

  static boolean bool(JsonNode obj, String field, String path) {
    JsonNode v = required(obj, field, path);
    if (!v.isBoolean()) {
      throw new SeedDecodeException(path + "." + field, "expected a boolean, got " + kind(v));
    }
    return v.booleanValue();
  }

  static String did(JsonNode obj, String field, String path) {
    return asDid(required(obj, field, path), path + "." + field);
  }

  static String asDid(JsonNode v, String path) {
    String s = asString(v, path);
    // Petrel's DID(didString:): "did:", then a non-empty method and a non-empty authority.
    String[] parts = s.startsWith("did:") ? s.substring(4).split(":", -1) : new String[0];
    if (parts.length < 2 || parts[0].isEmpty() || parts[1].isEmpty() || s.length() > 8192) {
      throw new SeedDecodeException(path, "not a DID: " + s);
    }
    return s;
  }

  static OffsetDateTime datetime(JsonNode obj, String field, String path) {
    return asDatetime(required(obj, field, path), path + "." + field);
  }

  static OffsetDateTime optDatetime(JsonNode obj, String field, String path) {
    JsonNode v = optional(obj, field, path);
    return v == null ? null : asDatetime(v, path + "." + field);
  }

  private static OffsetDateTime asDatetime(JsonNode v, String path) {
    String s = asString(v, path);
    try {
      return OffsetDateTime.parse(s, DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    } catch (DateTimeParseException e) {
      throw new SeedDecodeException(path, "not an RFC 3339 datetime: " + s);
    }
  }

  /** A lexicon {@code bytes} field: {@code {"$bytes": …}} that Foundation decodes. */
  static byte[] bytes(JsonNode obj, String field, String path) {
    return asBytes(required(obj, field, path), path + "." + field);
  }

  static byte[] optBytes(JsonNode obj, String field, String path) {
    JsonNode v = optional(obj, field, path);
    return v == null ? null : asBytes(v, path + "." + field);
  }

  private static byte[] asBytes(JsonNode v, String path) {
    String text = string(object(v, path), "$bytes", path);
    byte[] data = foundationBase64(text);
    if (data == null) {
      throw new SeedDecodeException(path + ".$bytes", "Data(base64Encoded:) returns nil for \"" + abbreviate(text) + "\"");
    }
    return data;
  }

  /** A binary value the seed types as {@code string}, decoded with the app's base64url helper. */
  static byte[] base64UrlString(JsonNode obj, String field, String path) {
    String text = string(obj, field, path);
    byte[] data = appBase64Url(text);
    if (data == null) {
      throw new SeedDecodeException(path + "." + field, "Data(base64URLEncoded:) returns nil for \"" + abbreviate(text) + "\"");
    }
    return data;
  }

  static <T> List<T> array(JsonNode obj, String field, String path, ElementDecoder<T> element) {
    return asArray(required(obj, field, path), path + "." + field, element);
  }

  static <T> List<T> optArray(JsonNode obj, String field, String path, ElementDecoder<T> element) {
    JsonNode v = optional(obj, field, path);
    return v == null ? null : asArray(v, path + "." + field, element);
  }

  private static <T> List<T> asArray(JsonNode v, String path, ElementDecoder<T> element) {
    if (!v.isArray()) {
      throw new SeedDecodeException(path, "expected an array, got " + kind(v));
    }
    // Swift decodes an array all or nothing: one bad element fails the whole response.
    List<T> out = new ArrayList<>(v.size());
    for (int i = 0; i < v.size(); i++) {
      out.add(element.decode(v.get(i), path + "[" + i + "]"));
    }
    return out;
  }

  static <T> T ref(JsonNode obj, String field, String path, ElementDecoder<T> type) {
    return type.decode(required(obj, field, path), path + "." + field);
  }

  static <T> T optRef(JsonNode obj, String field, String path, ElementDecoder<T> type) {
    JsonNode v = optional(obj, field, path);
    return v == null ? null : type.decode(v, path + "." + field);
  }

  /** Decodes one value found at {@code path}. */
  @FunctionalInterface
  interface ElementDecoder<T> {
    T decode(JsonNode value, String path);

    static ElementDecoder<String> didValue() {
      return SeedDecoding::asDid;
    }
  }

  private static String kind(JsonNode n) {
    return n == null || n.isMissingNode() ? "nothing" : n.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " " + abbreviate(n.toString());
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 57) + "…";
  }
}
