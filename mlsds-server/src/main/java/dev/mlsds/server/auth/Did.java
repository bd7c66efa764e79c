package dev.mlsds.server.auth;

import com.fasterxml.jackson.annotation.JsonValue;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.regex.Pattern;

/**
 * A decentralized identifier as AT Protocol uses it ({@code did:plc:…}, {@code did:web:…}, {@code did:key:…}).
 * Parsing is strict (the W3C DID syntax atproto allows, at most 2048 chars, no fragment or query), so a
 * {@code Did} value is always safe to use as a key or to put in SQL parameters and logs.
 */
public record Did(@JsonValue String value) {
  private static final Pattern SYNTAX = Pattern.compile("^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$");

  public Did {
    if (value == null || value.length() > 2048 || !SYNTAX.matcher(value).matches()) {
      throw new IllegalArgumentException("not a valid DID: " + abbreviate(value));
    }
  }

  /** Parses a DID from request input; a bad one is a 400 {@code InvalidRequest} naming the field. */
  public static Did parse(String value, String field) {
    try {
      return new Did(value);
    } catch (IllegalArgumentException e) {
      throw XrpcException.invalidRequest("'" + field + "' is not a valid DID: " + abbreviate(value));
    }
  }

  public String method() {
    return value.substring(4, value.indexOf(':', 4));
  }

  @Override
  public String toString() {
    return value;
  }

  private static String abbreviate(String s) {
    if (s == null) {
      return "null";
    }
    return s.length() > 80 ? s.substring(0, 80) + "…" : s;
  }
}
