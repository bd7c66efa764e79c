package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.Did;
import java.time.Instant;

/**
 * A stored KeyPackage's bookkeeping (not its bytes), as {@link KeyPackageStore#find} returns it to the
 * code that accepts Welcomes. {@code reservedBy}/{@code reservedUntil} are set only while
 * {@link KeyPackageState#RESERVED}; {@code convoId} once {@link KeyPackageState#USED}; {@code replaced}
 * marks a last-resort KeyPackage superseded by a newer upload of the same device and suite.
 */
public record StoredKeyPackage(
    String ref,
    Did did,
    DeviceId deviceId,
    CipherSuite cipherSuite,
    boolean lastResort,
    KeyPackageState state,
    Did reservedBy,
    Instant reservedUntil,
    Instant notAfter,
    String convoId,
    boolean replaced) {

  /**
   * Whether {@code adder} may name this KeyPackage in a Welcome at {@code nowMillis}: unexpired, and
   * either a current last-resort KeyPackage, or a one-time one that is available, reserved by
   * {@code adder}, or reserved by someone whose lease has lapsed.
   */
  public boolean usableBy(Did adder, long nowMillis) {
    if (notAfter.toEpochMilli() <= nowMillis) {
      return false;
    }
    if (lastResort) {
      return state == KeyPackageState.AVAILABLE && !replaced;
    }
    return switch (state) {
      case AVAILABLE -> true;
      case RESERVED -> adder.equals(reservedBy) || reservedUntil.toEpochMilli() <= nowMillis;
      case USED, CONSUMED -> false;
    };
  }
}
