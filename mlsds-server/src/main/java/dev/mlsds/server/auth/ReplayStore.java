package dev.mlsds.server.auth;

/**
 * Remembers the {@code jti} of every accepted service token for as long as the token could be valid.
 * Implementations must decide across every node that shares the store: of two concurrent calls with the
 * same issuer and jti, exactly one returns true.
 */
@FunctionalInterface
public interface ReplayStore {
  /** Records the token; true the first time, false when this issuer already used this jti. */
  boolean firstUse(Did issuer, String jti, long expiresAtEpochSecond);
}
