package dev.mlsds.server.conversations;

import dev.mlsds.server.xrpc.XrpcException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/** A conversation id: the lowercase hex of the MLS {@code group_id} (1..64 bytes, so 2..128 hex chars). */
public record ConvoId(String value) {
  private static final Pattern HEX = Pattern.compile("^(?:[0-9a-f]{2}){1,64}$");

  public ConvoId {
    if (value == null || !HEX.matcher(value).matches()) {
      throw new IllegalArgumentException("not a convo id: " + value);
    }
  }

  /** Parses request input (either case); a bad value is a 400 {@code InvalidRequest} naming the field. */
  public static ConvoId parse(String value, String field) {
    String v = value == null ? null : value.toLowerCase(Locale.ROOT);
    if (v == null || !HEX.matcher(v).matches()) {
      throw XrpcException.invalidRequest("'" + field + "' must be the hex MLS group id (2..128 hex chars)");
    }
    return new ConvoId(v);
  }

  public static ConvoId ofGroupId(byte[] groupId) {
    return new ConvoId(HexFormat.of().formatHex(groupId));
  }

  @Override
  public String toString() {
    return value;
  }
}
