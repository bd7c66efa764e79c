package dev.mlsds.server.xrpc;

import java.util.Map;

/**
 * A request that fails with a named XRPC error. The response body is
 * {@code {"error": name, "message": message, ...extras}}; {@code retryAfterSeconds} (when positive)
 * becomes a {@code Retry-After} header.
 */
public final class XrpcException extends RuntimeException {
  private final XrpcError error;
  private final Map<String, Object> extras;
  private final long retryAfterSeconds;
  private final int status;

  public XrpcException(XrpcError error, String message) {
    this(error, message, Map.of(), 0);
  }

  public XrpcException(XrpcError error, String message, Map<String, Object> extras) {
    this(error, message, extras, 0);
  }

  public XrpcException(XrpcError error, String message, Map<String, Object> extras, long retryAfterSeconds) {
    super(message, null, false, false);
    this.error = error;
    this.extras = Map.copyOf(extras);
    this.retryAfterSeconds = retryAfterSeconds;
    this.status = error.status();
  }

  private XrpcException(XrpcError error, String message, int status) {
    super(message, null, false, false);
    this.error = error;
    this.extras = Map.of();
    this.retryAfterSeconds = 0;
    this.status = status;
  }

  /** The HTTP method does not fit the NSID: 405 with the name {@code InvalidRequest} (docs/api.md §1). */
  public static XrpcException methodNotAllowed(String message) {
    return new XrpcException(XrpcError.InvalidRequest, message, 405);
  }

  public static XrpcException invalidRequest(String message) {
    return new XrpcException(XrpcError.InvalidRequest, message);
  }

  public int status() {
    return status;
  }

  public XrpcError error() {
    return error;
  }

  public Map<String, Object> extras() {
    return extras;
  }

  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
