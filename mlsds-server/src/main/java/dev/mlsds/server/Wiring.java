package dev.mlsds.server;

import dev.mlsds.server.auth.DidResolver;
import dev.mlsds.server.auth.JtiStore;
import dev.mlsds.server.auth.ServiceAuthenticator;
import dev.mlsds.server.limits.RateLimits;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.IdempotencyStore;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Builds a complete node from a {@link Config}: storage, authentication, limits and every feature's
 * methods, all wired by hand.
 */
public final class Wiring {
  private Wiring() {}

  public static Server build(Config config, Clock clock) {
    // The Server opens the database, so the jti replay store is bound to it once the Server exists.
    AtomicReference<JtiStore> jtis = new AtomicReference<>();
    RateLimits rateLimits = new RateLimits(config.limits(), clock);
    Server server = new Server(config, clock, new ServiceAuthenticator(config, clock, new DidResolver(config),
        (issuer, jti, exp) -> jtis.get().firstUse(issuer, jti, exp)), rateLimits);
    jtis.set(new JtiStore(server.database(), clock));
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
