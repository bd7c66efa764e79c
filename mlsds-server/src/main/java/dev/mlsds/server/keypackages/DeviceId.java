package dev.mlsds.server.keypackages;

import dev.mlsds.server.xrpc.XrpcException;
import java.util.regex.Pattern;

/**
 * A device: lowercase hex of the first 16 bytes of SHA-256 over the LeafNode {@code signature_key} of
 * its KeyPackages (docs/api.md §1). The server computes it from uploads ({@code KeyPackage.deviceId()}); the
 * client computes the same value from its own key, so there is no registration step.
 */
public record DeviceId(String value) {
  private static final Pattern SYNTAX = Pattern.compile("^[0-9a-f]{32}$");

  public DeviceId {
    if (value == null || !SYNTAX.matcher(value).matches()) {
      throw new IllegalArgumentException("not a device id (32 lowercase hex characters)");
    }
  }

  /** Parses request input; a bad value is a 400 {@code InvalidRequest} naming the field. */
  public static DeviceId parse(String value, String field) {
    if (value == null || !SYNTAX.matcher(value).matches()) {
      throw XrpcException.invalidRequest("'" + field + "' must be a device id: 32 lowercase hex characters");
    }
    return new DeviceId(value);
  }

  @Override
  public String toString() {
    return value;
  }
}
