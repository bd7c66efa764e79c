package dev.mlsds.server;

import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.IdempotencyStore;
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
    Database db = server.database();
    server.router().idempotency(new IdempotencyStore(db, clock));
    Notifier notifier = Notifier.NONE;
    ConvoEventLog eventLog = new ConvoEventLog(db.dialect());

    // Feature: key packages (API.md §3).

    // Feature: conversations and delivery (API.md §4-§6).

    // Feature: realtime (API.md §7).

    return server;
  }
}
