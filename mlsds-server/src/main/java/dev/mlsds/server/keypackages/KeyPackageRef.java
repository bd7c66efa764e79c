package dev.mlsds.server.keypackages;

import dev.mlsds.server.xrpc.XrpcException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An RFC 9420 KeyPackageRef (§5.2) as lowercase hex: the only meaning of "key package hash" in this
 * service, always computed by the server from the KeyPackage bytes. Its length is the suite's hash
 * length: 32, 48 or 64 bytes.
 */
public record KeyPackageRef(String hex) {
  private static final Pattern SYNTAX = Pattern.compile("^[0-9a-f]{64}(?:[0-9a-f]{32}){0,2}$");

  public KeyPackageRef {
    if (hex == null || !SYNTAX.matcher(hex).matches()) {
      throw new IllegalArgumentException("not a KeyPackageRef (64, 96 or 128 lowercase hex characters)");
    }
  }

  /**
   * Parses request input, accepting upper-case hex (normalised, so it still matches the stored ref); a bad
   * value is a 400 {@code InvalidRequest} naming the field.
   */
  public static KeyPackageRef parse(String value, String field) {
    String lower = value == null ? "" : value.toLowerCase(Locale.ROOT);
    if (!SYNTAX.matcher(lower).matches()) {
      throw XrpcException.invalidRequest("'" + field + "' must hold KeyPackageRefs: 64, 96 or 128 hex characters");
    }
    return new KeyPackageRef(lower);
  }

  @Override
  public String toString() {
    return hex;
  }
}
