package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcInput;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * {@code blue.catbird.mls.publishKeyPackage}: the single-item form kept for 2025 clients. Any rejection
 * is a 400 {@code InvalidKeyPackage} (or 409 {@code KeyPackageLimitReached}); a duplicate succeeds.
 */
public final class PublishKeyPackage {
  public static final String NSID = "blue.catbird.mls.publishKeyPackage";

  private PublishKeyPackage() {}

  /** {@code expires}, when given, may shorten how long the server hands the KeyPackage out, never extend it. */
  public record Input(byte[] keyPackage, CipherSuite cipherSuite, Optional<Instant> expires) {
    public static Input parse(XrpcInput in) {
      byte[] keyPackage = in.bytes("keyPackage");
      String suite = in.string("cipherSuite");
      CipherSuite cipherSuite = CipherSuite.parse(suite).orElseThrow(() -> new XrpcException(
          XrpcError.InvalidCipherSuite, "unknown cipherSuite '" + abbreviate(suite) + "'"));
      Optional<Instant> expires = in.optString("expires").map(s -> {
        try {
          return Instant.parse(s);
        } catch (DateTimeParseException e) {
          throw XrpcException.invalidRequest("'expires' must be an RFC 3339 datetime");
        }
      });
      return new Input(keyPackage, cipherSuite, expires);
    }
  }

  public record Output(String keyPackageRef, String deviceId) {}

  static String abbreviate(String s) {
    return s.length() > 80 ? s.substring(0, 80) + "…" : s;
  }
}
