package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import java.time.Instant;

/** What claiming a device's KeyPackage for one adder yields: a one-time KeyPackage, the last-resort one, or nothing. */
public sealed interface Claim {
  /** The bytes handed out (MLSMessage form) and what the response says about them. */
  record Handed(String ref, DeviceId deviceId, CipherSuite cipherSuite, byte[] data) {}

  /** A one-time KeyPackage, now reserved for the adder until {@code reservedUntil}. */
  record OneTime(Handed keyPackage, Instant reservedUntil) implements Claim {}

  /** The device's current last-resort KeyPackage: shared by every adder, never reserved. */
  record LastResort(Handed keyPackage) implements Claim {}

  /** The device has nothing unexpired in that suite that can be handed out. */
  record Nothing() implements Claim {}
}
