package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Notifier} of a PostgreSQL node: every wake goes to this node's {@link StreamHub} at once, and
 * every node {@code LISTEN}s on {@code mlsds_realtime} and hands what it hears to its own hub. No extra
 * service: the database the nodes share is the bus.
 *
 * <p><b>Who sends, and when.</b> The writer's node, <em>after</em> its transaction has committed: each
 * {@link #convoChanged}, {@link #membershipChanged} and {@link #userEvent} wakes this node's hub at once and
 * queues a notification for the others; one sender thread drains the queue and sends what it holds with
 * {@code pg_notify} in one short transaction with {@code synchronous_commit = off}, on a dedicated
 * connection outside the pool. Identical pending notifications are sent once. Why not from inside the
 * writing transaction (migration V11's triggers, dropped by V14): PostgreSQL holds a cluster-wide lock from
 * the pre-commit of a transaction that called {@code NOTIFY} until its commit record is flushed, so every
 * sending transaction flushed alone and group commit could not happen — the same sendMessage transaction
 * did 2.3–3.2× more in pgbench without it (docs/BENCHMARKS.md). A notification transaction that does not
 * wait for its flush holds that lock for microseconds.
 *
 * <p>A notification only wakes; subscribers then read the database, which is the source of truth, so a
 * duplicated notification costs a read and a lost one only a delay. Losses — the node dies between its
 * commit and the send, or the sender's connection is down — are bounded: the sender keeps what it could
 * not send and retries with backoff on a new connection; a queue over {@link #MAX_PENDING} distinct
 * notifications collapses into one "resync" that wakes every stream on the other nodes; LISTEN runs on its
 * own dedicated connection, reconnects with backoff and wakes every local feed and stream after
 * reconnecting ({@link StreamHub#resyncAll}); and the hub's periodic catch-up finds whatever a lost wake
 * left unread within one period.
 *
 * <p>Payload: {@code <node>|c|<convoId>}, {@code <node>|m|<convoId>|<did>},
 * {@code <node>|u|<did>|<type>|<json>} or {@code <node>|r}; a node ignores its own.
 */
final class PostgresBus implements Notifier, AutoCloseable {
  static final String CHANNEL = "mlsds_realtime";
  private static final Logger log = LoggerFactory.getLogger(PostgresBus.class);
  private static final int NOTIFY_MAX_BYTES = 7900; // PostgreSQL refuses payloads of 8000 bytes and more
  private static final Duration POLL = Duration.ofMillis(500);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);
  /** Distinct notifications waiting to be sent before they collapse into one resync. */
  static final int MAX_PENDING = 10_000;
  private static final String SEND = """
      SELECT count(pg_notify(?, p)) FROM unnest(?::text[]) AS p""";

  private final StreamHub hub;
  private final Database db;
  private final RealtimeMetrics metrics;
  private final String node;
  private volatile boolean running;
  private volatile Connection listening;
  private Thread listener;
  private Thread sender;
  private volatile Connection sending;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition queued = lock.newCondition();
  private final LinkedHashSet<String> pending = new LinkedHashSet<>(); // guarded by lock
  private boolean overflowed; // guarded by lock

  PostgresBus(StreamHub hub, Database db, RealtimeMetrics metrics) {
    this.hub = hub;
    this.db = db;
    this.metrics = metrics;
    byte[] id = new byte[6];
    new SecureRandom().nextBytes(id);
    this.node = HexFormat.of().formatHex(id);
  }

  @Override
  public void convoChanged(String convoId) {
    hub.convoChanged(convoId);
    enqueue("c|" + convoId);
  }

  @Override
  public void membershipChanged(String convoId, Did did) {
    hub.membershipChanged(convoId, did);
    enqueue("m|" + convoId + "|" + did.value());
  }

  @Override
  public void userEvent(Did did, String type, String payloadJson) {
    hub.userEvent(did, type, payloadJson);
    enqueue("u|" + did.value() + "|" + type + "|" + payloadJson);
  }

  /** Callers have committed: nothing here fails or blocks the request. */
  private void enqueue(String message) {
    String payload = node + "|" + message;
    if (payload.length() * 3 > NOTIFY_MAX_BYTES && payload.getBytes(StandardCharsets.UTF_8).length > NOTIFY_MAX_BYTES) {
      log.warn("realtime notification too large for NOTIFY; other nodes see it at their next wake");
      return;
    }
    lock.lock();
    try {
      if (!overflowed) {
        pending.add(payload);
        if (pending.size() > MAX_PENDING) {
          pending.clear();
          overflowed = true;
        }
      }
      queued.signal();
    } finally {
      lock.unlock();
    }
  }

  /** Sends what is queued, one transaction per round, until close(); keeps what it could not send. */
  private void send() {
    long backoff = 100;
    Connection c = null;
    while (running) {
      List<String> batch;
      lock.lock();
      try {
        while (running && pending.isEmpty() && !overflowed) {
          queued.await();
        }
        if (!running && pending.isEmpty() && !overflowed) {
          break; // closed with nothing left to send; otherwise one last round
        }
        batch = overflowed ? List.of(node + "|r") : new ArrayList<>(pending);
        pending.clear();
        overflowed = false;
      } catch (InterruptedException e) {
        break;
      } finally {
        lock.unlock();
      }
      try {
        if (c == null) {
          c = connect("mlsds-realtime-notify");
          c.setAutoCommit(false);
          sending = c;
        }
        try (Statement s = c.createStatement()) {
          s.execute("SET LOCAL synchronous_commit = off");
        }
        try (PreparedStatement ps = c.prepareStatement(SEND)) {
          ps.setString(1, CHANNEL);
          ps.setArray(2, c.createArrayOf("text", batch.toArray()));
          ps.executeQuery().close();
        }
        c.commit();
        metrics.busNotified(batch.size());
        backoff = 100;
      } catch (SQLException | RuntimeException e) {
        if (!running) {
          break;
        }
        log.warn("realtime NOTIFY failed, retrying in {} ms on a new connection: {}", backoff, e.toString());
        closeQuietly(c);
        c = null;
        sending = null;
        requeue(batch);
        sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF.toMillis());
      }
    }
    closeQuietly(c);
    sending = null;
  }

  private void requeue(List<String> batch) {
    lock.lock();
    try {
      if (overflowed) {
        return;
      }
      LinkedHashSet<String> merged = new LinkedHashSet<>(batch);
      merged.addAll(pending);
      pending.clear();
      if (merged.size() > MAX_PENDING || batch.contains(node + "|r")) {
        overflowed = true;
      } else {
        pending.addAll(merged);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Notifications queued and not yet sent (tests). */
  int pendingCount() {
    lock.lock();
    try {
      return overflowed ? 1 : pending.size();
    } finally {
      lock.unlock();
    }
  }

  private static void closeQuietly(Connection c) {
    if (c != null) {
      try {
        c.close();
      } catch (SQLException e) {
        // replaced anyway
      }
    }
  }

  void start() {
    running = true;
    listener = Thread.ofVirtual().name("mlsds-realtime-listen").start(this::listen);
    sender = Thread.ofVirtual().name("mlsds-realtime-notify").start(this::send);
  }

  private void listen() {
    long backoff = 100;
    boolean first = true;
    while (running) { // one round per connection; ends on close()
      try (Connection c = connect("mlsds-realtime-listen")) {
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

  private Connection connect(String applicationName) throws SQLException {
    Properties p = new Properties();
    p.setProperty("ApplicationName", applicationName);
    p.setProperty("tcpKeepAlive", "true");
    return DriverManager.getConnection(db.url(), p);
  }

  private void dispatch(String payload) {
    String[] f = payload.split("\\|", 5);
    if (f.length < 2 || f[0].equals(node)) {
      return;
    }
    if (f[1].equals("r")) {
      hub.resyncAll();
      return;
    }
    if (f.length < 3) {
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
    lock.lock();
    try {
      queued.signalAll();
    } finally {
      lock.unlock();
    }
    if (sender != null) {
      try {
        sender.join(Duration.ofSeconds(2));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      closeQuietly(sending); // a sender still stuck (e.g. connecting to a database that is away) gives up
    }
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
