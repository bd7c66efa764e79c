package dev.mlsds.server.xrpc;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Typed, strict access to a query's URL parameters (arrays as repeated keys). Every accessor returns a
 * well-typed value or throws {@code InvalidRequest} naming the parameter.
 */
public final class XrpcParams {
  private final Map<String, List<String>> values;

  public XrpcParams(Map<String, List<String>> values) {
    this.values = values;
  }

  public Optional<String> opt(String name) {
    List<String> v = values.get(name);
    if (v == null || v.isEmpty()) {
      return Optional.empty();
    }
    if (v.size() > 1) {
      throw XrpcException.invalidRequest("parameter '" + name + "' must appear at most once");
    }
    return Optional.of(v.get(0));
  }

  public String required(String name) {
    return opt(name).orElseThrow(() -> XrpcException.invalidRequest("missing required parameter '" + name + "'"));
  }

  public List<String> list(String name, int min, int max) {
    List<String> v = values.getOrDefault(name, List.of());
    if (v.size() < min || v.size() > max) {
      throw XrpcException.invalidRequest("parameter '" + name + "' must be given " + min + ".." + max + " times, was " + v.size());
    }
    return v;
  }

  /** An integer parameter in {@code [min, max]}, or {@code def} when absent. */
  public long integer(String name, long min, long max, long def) {
    Optional<String> s = opt(name);
    if (s.isEmpty()) {
      return def;
    }
    long v;
    try {
      v = Long.parseLong(s.get());
    } catch (NumberFormatException e) {
      throw XrpcException.invalidRequest("parameter '" + name + "' must be an integer");
    }
    if (v < min || v > max) {
      throw XrpcException.invalidRequest("parameter '" + name + "' must be in " + min + ".." + max);
    }
    return v;
  }

  public long requiredInteger(String name, long min, long max) {
    required(name);
    return integer(name, min, max, 0);
  }

  public Optional<Long> optInteger(String name, long min, long max) {
    return opt(name).isEmpty() ? Optional.empty() : Optional.of(integer(name, min, max, 0));
  }
}
