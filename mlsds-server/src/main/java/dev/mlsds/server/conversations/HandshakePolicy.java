package dev.mlsds.server.conversations;

import dev.mlsds.server.xrpc.XrpcException;
import java.util.Locale;

/**
 * What a conversation accepts as handshake messages (commits and proposals), chosen at createConvo.
 *
 * <ul>
 *   <li>{@code public}: commits and proposals must be PublicMessages, so the server sees and polices every
 *       membership and credential change (docs/conversations.md, "Policed membership").</li>
 *   <li>{@code any}: encrypted (PrivateMessage) handshakes are accepted too, for clients that encrypt them;
 *       the server checks only what it can see, and a broken epoch is recovered by a group reset.</li>
 * </ul>
 */
public enum HandshakePolicy {
  PUBLIC("public"),
  ANY("any");

  private final String wireName;

  HandshakePolicy(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  /** Parses a stored or configured value; throws {@link IllegalArgumentException} on anything else. */
  public static HandshakePolicy parse(String s) {
    return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
      case "public" -> PUBLIC;
      case "any" -> ANY;
      default -> throw new IllegalArgumentException("handshake policy must be public or any, not '" + s + "'");
    };
  }

  /** Parses request input: a bad value is 400 {@code InvalidRequest} naming the field. */
  public static HandshakePolicy parse(String s, String field) {
    try {
      return parse(s);
    } catch (IllegalArgumentException e) {
      throw XrpcException.invalidRequest("'" + field + "' must be public or any");
    }
  }
}
