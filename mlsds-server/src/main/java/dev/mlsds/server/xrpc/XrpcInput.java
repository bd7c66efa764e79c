package dev.mlsds.server.xrpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Typed, strict access to a procedure's JSON body. Every accessor either returns a well-typed value or
 * throws {@link XrpcException} {@code InvalidRequest} naming the field, so handlers never see raw JSON
 * errors. Unknown fields are ignored (compatibility with 2025 clients, docs/api.md §1).
 */
public final class XrpcInput {
  private final JsonNode root;

  public XrpcInput(JsonNode root) {
    if (root == null || root.isNull() || root.isMissingNode()) {
      this.root = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    } else if (!root.isObject()) {
      throw XrpcException.invalidRequest("request body must be a JSON object");
    } else {
      this.root = root;
    }
  }

  public static XrpcInput empty() {
    return new XrpcInput(NullNode.getInstance());
  }

  public JsonNode raw() {
    return root;
  }

  private JsonNode node(String field) {
    JsonNode n = root.get(field);
    return n == null || n.isNull() ? null : n;
  }

  public boolean has(String field) {
    return node(field) != null;
  }

  public String string(String field) {
    return optString(field).orElseThrow(() -> missing(field));
  }

  public Optional<String> optString(String field) {
    JsonNode n = node(field);
    if (n == null) {
      return Optional.empty();
    }
    if (!n.isTextual()) {
      throw XrpcException.invalidRequest("field '" + field + "' must be a string");
    }
    return Optional.of(n.textValue());
  }

  /** A string whose length (in chars) lies in {@code [min, max]}. */
  public Optional<String> optString(String field, int min, int max) {
    Optional<String> s = optString(field);
    s.ifPresent(v -> {
      if (v.length() < min || v.length() > max) {
        throw XrpcException.invalidRequest("field '" + field + "' must be " + min + ".." + max + " characters");
      }
    });
    return s;
  }

  public Optional<Boolean> optBool(String field) {
    JsonNode n = node(field);
    if (n == null) {
      return Optional.empty();
    }
    if (!n.isBoolean()) {
      throw XrpcException.invalidRequest("field '" + field + "' must be a boolean");
    }
    return Optional.of(n.booleanValue());
  }

  public boolean bool(String field) {
    return optBool(field).orElseThrow(() -> missing(field));
  }

  public Optional<Long> optLong(String field) {
    JsonNode n = node(field);
    if (n == null) {
      return Optional.empty();
    }
    if (!n.isIntegralNumber() || !n.canConvertToLong()) {
      throw XrpcException.invalidRequest("field '" + field + "' must be an integer");
    }
    return Optional.of(n.longValue());
  }

  /** Bytes as atproto {@code {"$bytes": b64}} or a plain base64 string, padded or not. */
  public byte[] bytes(String field) {
    return optBytes(field).orElseThrow(() -> missing(field));
  }

  public Optional<byte[]> optBytes(String field) {
    JsonNode n = node(field);
    return n == null ? Optional.empty() : Optional.of(decodeBytes(n, field));
  }

  public static byte[] decodeBytes(JsonNode n, String field) {
    String b64;
    if (n.isTextual()) {
      b64 = n.textValue();
    } else if (n.isObject() && n.size() == 1 && n.get("$bytes") != null && n.get("$bytes").isTextual()) {
      b64 = n.get("$bytes").textValue();
    } else {
      throw XrpcException.invalidRequest("field '" + field + "' must be bytes: {\"$bytes\": \"<base64>\"} or a base64 string");
    }
    try {
      return Base64.getDecoder().decode(stripPadding(b64.strip()));
    } catch (IllegalArgumentException e) {
      try {
        return Base64.getUrlDecoder().decode(stripPadding(b64.strip()));
      } catch (IllegalArgumentException e2) {
        throw XrpcException.invalidRequest("field '" + field + "' is not valid base64");
      }
    }
  }

  private static String stripPadding(String s) {
    int end = s.length();
    while (end > 0 && s.charAt(end - 1) == '=') {
      end--;
    }
    return s.substring(0, end);
  }

  /** A JSON array of {@code min..max} elements, each converted by {@code each} (which may throw). */
  public <T> List<T> list(String field, int min, int max, Function<JsonNode, T> each) {
    return optList(field, min, max, each).orElseThrow(() -> missing(field));
  }

  public <T> Optional<List<T>> optList(String field, int min, int max, Function<JsonNode, T> each) {
    JsonNode n = node(field);
    if (n == null) {
      return Optional.empty();
    }
    if (!n.isArray()) {
      throw XrpcException.invalidRequest("field '" + field + "' must be an array");
    }
    if (n.size() < min || n.size() > max) {
      throw XrpcException.invalidRequest("field '" + field + "' must have " + min + ".." + max + " items, has " + n.size());
    }
    List<T> out = new ArrayList<>(n.size());
    for (JsonNode e : n) {
      out.add(each.apply(e));
    }
    return Optional.of(out);
  }

  public Optional<XrpcInput> optObject(String field) {
    JsonNode n = node(field);
    if (n == null) {
      return Optional.empty();
    }
    if (!n.isObject()) {
      throw XrpcException.invalidRequest("field '" + field + "' must be an object");
    }
    return Optional.of(new XrpcInput(n));
  }

  /** Element converter for arrays of strings. */
  public static String textElement(JsonNode n, String field) {
    if (!n.isTextual()) {
      throw XrpcException.invalidRequest("items of '" + field + "' must be strings");
    }
    return n.textValue();
  }

  private static XrpcException missing(String field) {
    return XrpcException.invalidRequest("missing required field '" + field + "'");
  }
}
