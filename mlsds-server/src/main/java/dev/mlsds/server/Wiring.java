package dev.mlsds.server;

import dev.mlsds.server.auth.DidResolver;
import dev.mlsds.server.auth.JtiStore;
import dev.mlsds.server.auth.ServiceAuthenticator;
import dev.mlsds.server.conversations.ConvoHandlers;
import dev.mlsds.server.conversations.ConvoService;
import dev.mlsds.server.conversations.CommitPolicing;
import dev.mlsds.server.conversations.GroupStateStore;
import dev.mlsds.server.conversations.ConvoStore;
import dev.mlsds.server.conversations.IntegrityHandlers;
import dev.mlsds.server.conversations.IntegritySettings;
import dev.mlsds.server.conversations.Roles;
import dev.mlsds.server.conversations.RosterStore;
import dev.mlsds.server.delivery.DeliveryHandlers;
import dev.mlsds.server.delivery.DeliveryService;
import dev.mlsds.server.delivery.MessageLog;
import dev.mlsds.server.delivery.MessageStore;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.keypackages.KeyPackageHandlers;
import dev.mlsds.server.keypackages.KeyPackageMetrics;
import dev.mlsds.server.keypackages.KeyPackageService;
import dev.mlsds.server.keypackages.KeyPackageStore;
import dev.mlsds.server.limits.CpuPool;
import dev.mlsds.server.limits.Quotas;
import dev.mlsds.server.limits.RateLimits;
import dev.mlsds.server.ops.Metrics;
import dev.mlsds.server.ops.Retention;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.realtime.RealtimeHandlers;
import dev.mlsds.server.realtime.RealtimeSettings;
import dev.mlsds.server.realtime.StreamHub;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.IdempotencyStore;
import java.time.Clock;
import java.time.Duration;

/**
 * Builds a complete node from a {@link Config}: storage, authentication, limits and every feature's
 * methods, all wired by hand.
 */
public final class Wiring {
  private Wiring() {}

  public static Server build(Config config, Clock clock) {
    return build(config, clock, RealtimeSettings.defaults());
  }

  /** As {@link #build(Config, Clock)}, with the event streams tuned (tests: short keepalives, small buffers). */
  public static Server build(Config config, Clock clock, RealtimeSettings realtime) {
    Metrics metrics = new Metrics();
    Database db = Database.open(config.validate().effectiveDatabaseUrl(), metrics.registry(),
        config.bounds().sqliteSynchronous(), config.bounds().databasePoolSize());
    db.startMigrating(); // alongside the rest of the wiring and Jetty's; Server.start waits for it before listening
    JtiStore jtis = new JtiStore(db, clock);
    RateLimits rateLimits = new RateLimits(config.limits(), config.storage(), clock);
    Quotas quotas = new Quotas(config.storage());
    Server server = new Server(config, clock, metrics, db,
        new ServiceAuthenticator(config, clock, new DidResolver(config), jtis), rateLimits);
    StreamHub streams = StreamHub.open(db, clock, realtime, metrics.registry());
    Notifier notifier = streams.notifier(); // in-process on SQLite; LISTEN/NOTIFY across nodes on PostgreSQL
    ConvoEventLog eventLog = new ConvoEventLog(db.dialect(), notifier);

    WelcomeStore welcomeStore = new WelcomeStore();

    // Feature: key packages (docs/api.md §3).
    KeyPackageMetrics keyPackageMetrics = new KeyPackageMetrics(server.metrics().registry());
    KeyPackageStore keyPackageStore = new KeyPackageStore(db.dialect(), keyPackageMetrics);
    CpuPool validations = server.cpuPool("keypackage-validation", config.bounds().validationThreads(),
        config.bounds().validationQueue());
    KeyPackageService keyPackages = new KeyPackageService(db, keyPackageStore, welcomeStore, eventLog, notifier,
        config.limits(), config.storage().devicesPerDid(), clock, keyPackageMetrics, validations);
    new KeyPackageHandlers(keyPackages, rateLimits, config.limits()).register(server.router());

    // Feature: conversations and delivery (docs/api.md §4-§6).
    ConvoStore convoStore = new ConvoStore(db.dialect());
    MessageStore messageStore = new MessageStore();
    MessageLog messageLog = new MessageLog(convoStore, messageStore, quotas);
    // Group integrity (docs/conversations.md): commit/proposal policing, handshake policy, roles.
    IntegritySettings integrity = IntegritySettings.fromEnvironment(System.getenv());
    RosterStore rosterStore = new RosterStore();
    CommitPolicing policing = new CommitPolicing(convoStore, rosterStore, new GroupStateStore(), keyPackageStore, clock, config.limits(), integrity);
    IntegrityHandlers.register(server.router(), new Roles(db, convoStore, rosterStore, notifier, clock));
    ConvoHandlers.register(server.router(), new ConvoService(db, convoStore, messageLog, welcomeStore, keyPackageStore,
        eventLog, notifier, clock, config.limits(), quotas, server.metrics().registry(), policing, integrity),
        config.limits().membersPerConvo());
    DeliveryHandlers.register(server.router(), new DeliveryService(db, convoStore, messageStore, messageLog,
        welcomeStore, keyPackageStore, eventLog, notifier, clock, config.limits(), config.storage(),
        server.metrics().registry()).policedBy(policing), config.limits().messageMaxBytes());

    IdempotencyStore idempotency = new IdempotencyStore(db, clock);
    server.router().idempotency(idempotency);
    server.maintenance()
        .task("idempotency-records", () -> idempotency.purgeOlderThan(Duration.ofHours(25)))
        .task("token-ids", jtis::purgeExpired)
        .task("key-packages", () -> {
          KeyPackageService.Purged p = keyPackages.purgeExpired();
          return p.expiredDeleted() + p.leasesReleased() + p.consumedDeleted() + p.welcomesInvalidated();
        })
        .task("welcome-grace", () -> db.inTransaction(h ->
            welcomeStore.expireGrace(h, clock.millis() - config.limits().welcomeGrace().toMillis())));

    // Retention and quota releases (docs/limits.md).
    new Retention(db, quotas, clock).register(server.maintenance());

    // Feature: realtime (docs/api.md §7).
    new RealtimeHandlers(streams, convoStore, rateLimits).register(server);

    return server;
  }
}
