package dev.mlsds.server.conversations;

import java.util.Map;

/**
 * Group-integrity settings, from the environment: {@code MLSDS_HANDSHAKE_POLICY} ({@code any} or
 * {@code public}: the policy of a conversation whose createConvo names none) and
 * {@code MLSDS_COMMITS_PER_MEMBER_PER_MINUTE} (commits one member may send to one conversation per minute,
 * on one node; 0 = unlimited).
 */
public record IntegritySettings(HandshakePolicy defaultHandshakePolicy, int commitsPerMemberPerMinute) {
  public IntegritySettings {
    if (commitsPerMemberPerMinute < 0) {
      throw new IllegalArgumentException("MLSDS_COMMITS_PER_MEMBER_PER_MINUTE must be >= 0");
    }
  }

  public static IntegritySettings defaults() {
    return new IntegritySettings(HandshakePolicy.ANY, 60);
  }

  /** Reads the environment; a bad value is an {@link IllegalArgumentException} naming the variable. */
  public static IntegritySettings fromEnvironment(Map<String, String> env) {
    IntegritySettings d = defaults();
    HandshakePolicy policy = d.defaultHandshakePolicy();
    String p = env.get("MLSDS_HANDSHAKE_POLICY");
    if (p != null && !p.isBlank()) {
      try {
        policy = HandshakePolicy.parse(p);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("MLSDS_HANDSHAKE_POLICY must be public or any, not '" + p + "'");
      }
    }
    int rate = d.commitsPerMemberPerMinute();
    String r = env.get("MLSDS_COMMITS_PER_MEMBER_PER_MINUTE");
    if (r != null && !r.isBlank()) {
      try {
        rate = Integer.parseInt(r.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("MLSDS_COMMITS_PER_MEMBER_PER_MINUTE must be a number, not '" + r + "'");
      }
    }
    return new IntegritySettings(policy, rate);
  }
}
