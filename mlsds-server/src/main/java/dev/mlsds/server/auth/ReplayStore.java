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

  /**
   * For a call that writes: false when this issuer already used this jti; otherwise the jti may be
   * recorded with the call's own first committed transaction instead of at once (a call that fails then
   * leaves its token unused), a second use failing that transaction with {@code TokenReplayed} (the
   * {@link JtiStore} claims it as the transaction's first statement, so nothing else runs).
   */
  default boolean firstUseWithWork(Did issuer, String jti, long expiresAtEpochSecond) {
    return firstUse(issuer, jti, expiresAtEpochSecond);
  }
}
