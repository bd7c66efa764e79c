package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Notifier} of a PostgreSQL node: every wake goes to this node's {@link StreamHub} at once, and
 * every node {@code LISTEN}s on {@code mlsds_realtime} and hands what it hears to its own hub. No extra
 * service: the database the nodes share is the bus.
 *
 * <p><b>Who sends.</b> Log appends and membership changes are announced by the database itself: the
 * triggers of migration V11 call {@code pg_notify} inside the writing transaction, which PostgreSQL
 * delivers at commit and only on commit, with no second connection. So {@link #convoChanged} and
 * {@link #membershipChanged} only wake this node. Live-only user events ({@code keyPackagesLowEvent}) are
 * not in any table and are sent here with {@code pg_notify} (their callers have committed).
 *
 * <p>A notification only wakes; subscribers then read the database, which is the source of truth, so a
 * duplicated notification costs a read and a lost one only a delay. Losses are bounded twice: LISTEN runs
 * on a dedicated connection outside the pool, reconnects with backoff when it drops, and after
 * reconnecting wakes every local feed and stream ({@link StreamHub#resyncAll}); and the hub's periodic
 * catch-up finds whatever a lost wake left unread within one period.
 *
 * <p>Payload: {@code <node>|c|<convoId>}, {@code <node>|m|<convoId>|<did>} or
 * {@code <node>|u|<did>|<type>|<json>}; a node ignores its own, and the triggers' node is {@code -}.
 */
final class PostgresBus implements Notifier, AutoCloseable {
  static final String CHANNEL = "mlsds_realtime";
  private static final Logger log = LoggerFactory.getLogger(PostgresBus.class);
  private static final int NOTIFY_MAX_BYTES = 7900; // PostgreSQL refuses payloads of 8000 bytes and more
  private static final Duration POLL = Duration.ofMillis(500);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

  private final StreamHub hub;
  private final Database db;
  private final RealtimeMetrics metrics;
  private final String node;
  private volatile boolean running;
  private volatile Connection listening;
  private Thread listener;

  PostgresBus(StreamHub hub, Database db, RealtimeMetrics metrics) {
    this.hub = hub;
    this.db = db;
    this.metrics = metrics;
    byte[] id = new byte[6];
    new SecureRandom().nextBytes(id);
    this.node = HexFormat.of().formatHex(id);
  }

  /** The other nodes hear of it from the V11 trigger, at the writer's commit. */
  @Override
  public void convoChanged(String convoId) {
    hub.convoChanged(convoId);
  }

  /** The other nodes hear of it from the V11 trigger on the {@code membershipEvent}'s row. */
  @Override
  public void membershipChanged(String convoId, Did did) {
    hub.membershipChanged(convoId, did);
  }

  @Override
  public void userEvent(Did did, String type, String payloadJson) {
    hub.userEvent(did, type, payloadJson);
    publish("u|" + did.value() + "|" + type + "|" + payloadJson);
  }

  /** Callers have committed: a failure here must not fail the request. */
  private void publish(String message) {
    String payload = node + "|" + message;
    if (payload.getBytes(StandardCharsets.UTF_8).length > NOTIFY_MAX_BYTES) {
      log.warn("realtime notification too large for NOTIFY; other nodes see it at their next wake");
      return;
    }
    try {
      db.withHandle(h -> h.createQuery("SELECT pg_notify(:channel, :payload)").bind("channel", CHANNEL)
          .bind("payload", payload).mapTo(String.class).findFirst());
    } catch (RuntimeException e) {
      log.warn("NOTIFY failed; other nodes see this change at their next wake: {}", e.toString());
    }
  }

  void start() {
    running = true;
    listener = Thread.ofVirtual().name("mlsds-realtime-listen").start(this::listen);
  }

  private void listen() {
    long backoff = 100;
    boolean first = true;
    while (running) { // one round per connection; ends on close()
      try (Connection c = connect()) {
        listening = c;
        try (Statement s = c.createStatement()) {
          s.execute("LISTEN " + CHANNEL);
        }
        if (!first) {
          metrics.busReconnected();
          log.info("realtime LISTEN connection re-established; waking every stream");
          hub.resyncAll();
        }
        first = false;
        backoff = 100;
        PGConnection pg = c.unwrap(PGConnection.class);
        while (running) { // until the connection fails or close()
          PGNotification[] received = pg.getNotifications((int) POLL.toMillis());
          if (received != null) {
            for (PGNotification n : received) {
              dispatch(n.getParameter());
            }
          }
        }
      } catch (SQLException | RuntimeException e) {
        if (!running) {
          return;
        }
        first = false;
        log.warn("realtime LISTEN connection failed, reconnecting in {} ms: {}", backoff, e.toString());
        sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF.toMillis());
      } finally {
        listening = null;
      }
    }
  }

  private Connection connect() throws SQLException {
    Properties p = new Properties();
    p.setProperty("ApplicationName", "mlsds-realtime-listen");
    p.setProperty("tcpKeepAlive", "true");
    return DriverManager.getConnection(db.url(), p);
  }

  private void dispatch(String payload) {
    String[] f = payload.split("\\|", 5);
    if (f.length < 3 || f[0].equals(node)) {
      return;
    }
    try {
      switch (f[1]) {
        case "c" -> hub.convoChanged(f[2]);
        case "m" -> {
          if (f.length >= 4) {
            hub.membershipChanged(f[2], new Did(f[3]));
          }
        }
        case "u" -> {
          if (f.length == 5) {
            hub.userEvent(new Did(f[2]), f[3], f[4]);
          }
        }
        default -> log.debug("unknown realtime notification kind {}", f[1]);
      }
    } catch (IllegalArgumentException e) {
      log.warn("malformed realtime notification ignored: {}", e.getMessage());
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    running = false;
    Connection c = listening;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException e) {
        // closing anyway
      }
    }
    if (listener != null) {
      try {
        listener.join(Duration.ofSeconds(2));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
