package dev.mlsds.server.realtime;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.storage.Dialect;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's registry of open streams and live conversation feeds, and the in-process {@link Notifier}:
 * a wake for a conversation wakes its {@link ConvoFeed}, a user-level wake reaches that user's
 * {@link Subscription}s. With PostgreSQL, {@link #notifier()} is a {@link PostgresBus} that also carries
 * every wake to the other nodes (and theirs to this one); with SQLite (one node) it is the hub itself.
 *
 * <p>The hub holds no event data that matters for correctness: everything it wakes reads the database.
 */
public final class StreamHub implements Notifier, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StreamHub.class);
  private static final Duration RETRY = Duration.ofSeconds(1);
  private static final Duration CATCH_UP_SLACK = Duration.ofSeconds(30);

  private final Database db;
  private final Clock clock;
  private final RealtimeSettings settings;
  private final RealtimeMetrics metrics;
  private final StreamStore store = new StreamStore();
  private final StreamCursors cursors;
  private final TicketStore tickets;
  private final PostgresBus bus;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<String, ConvoFeed> feeds = new ConcurrentHashMap<>();
  private final Map<String, Set<Subscription>> byDid = new ConcurrentHashMap<>();
  private final Set<Subscription> allConvoStreams = ConcurrentHashMap.newKeySet();
  /** Conversations this node has already looked for members' streams in (see {@link #convoChanged}). */
  private final Cache<String, Boolean> discovered =
      Caffeine.newBuilder().maximumSize(100_000).expireAfterWrite(Duration.ofMinutes(10)).build();
  private volatile boolean closed;
  private Thread catchUpThread;

  private StreamHub(Database db, Clock clock, RealtimeSettings settings, MeterRegistry registry) {
    this.db = db;
    this.clock = clock;
    this.settings = settings;
    this.metrics = new RealtimeMetrics(registry);
    this.cursors = new StreamCursors(db, clock, settings.cursorRetention());
    this.tickets = new TicketStore(db, clock, settings.ticketLifetime());
    this.bus = db.dialect() == Dialect.POSTGRES ? new PostgresBus(this, db, metrics) : null;
  }

  /** The hub of a node over {@code db}: in-process on SQLite, LISTEN/NOTIFY across nodes on PostgreSQL. */
  public static StreamHub open(Database db, Clock clock, RealtimeSettings settings, MeterRegistry registry) {
    return new StreamHub(db, clock, settings, registry);
  }

  /** What the services call after they commit. */
  public Notifier notifier() {
    return bus != null ? bus : this;
  }

  /** Starts listening to the other nodes (PostgreSQL) and the periodic catch-up. */
  void start() {
    if (bus != null) {
      bus.start();
    }
    catchUpThread = Thread.ofVirtual().name("mlsds-realtime-catchup").start(this::catchUpLoop);
  }

  private void catchUpLoop() {
    long since = clock.millis();
    while (!closed) { // until close() interrupts it
      try {
        Thread.sleep(settings.catchUp());
      } catch (InterruptedException e) {
        return;
      }
      long now = clock.millis();
      try {
        catchUp(since);
        // The next round looks back over this one too, and beyond: a membership row is stamped when its
        // transaction wrote it, which may commit a little later.
        since = now - settings.catchUp().toMillis() - CATCH_UP_SLACK.toMillis();
      } catch (RuntimeException e) {
        log.warn("realtime catch-up failed; retrying next period: {}", e.toString());
      }
    }
  }

  /**
   * The safety net for lost wakes (a NOTIFY that never arrived, a LISTEN connection that was down): every
   * feed whose log's head is past its tail reads, and every local stream of a user whose membership
   * changed since {@code since} rechecks it. A lost wake therefore delays an event by at most one period.
   * The cost does not grow with streams: one query per 500 feeds, one for recent membership changes.
   */
  void catchUp(long since) {
    Map<String, ConvoFeed> open = Map.copyOf(feeds);
    if (!open.isEmpty()) {
      db.withHandle(h -> store.heads(h, open.keySet())).forEach((convo, head) -> {
        ConvoFeed feed = open.get(convo);
        if (feed != null && feed.isBehind(head)) {
          feed.wake();
        }
      });
    }
    if (!byDid.isEmpty()) {
      for (Map.Entry<String, String> change : db.withHandle(h -> store.recentMembershipChanges(h, since))) {
        forEachStream(change.getValue(), s -> s.recheck(change.getKey()));
      }
    }
  }

  // ---- Notifier: wakes from this node's services, or from other nodes through the bus ---------------

  /**
   * Wakes the conversation's feed. A conversation this node has no feed for may have members whose
   * all-conversations streams do not know it yet: its creator is made a member without a
   * {@code membershipEvent} (everyone else gets one, and with it a {@link #membershipChanged} wake), so
   * the first wake a node sees for a conversation also looks up its members once.
   */
  @Override
  public void convoChanged(String convoId) {
    ConvoFeed feed = feeds.get(convoId);
    if (feed != null) {
      feed.wake();
    }
    if (!allConvoStreams.isEmpty() && discovered.asMap().putIfAbsent(convoId, Boolean.TRUE) == null) {
      submit(() -> db.withHandle(h -> store.activeMembers(h, convoId)).keySet()
          .forEach(did -> forEachStream(did, s -> s.recheck(convoId))));
    }
  }

  @Override
  public void membershipChanged(String convoId, Did did) {
    forEachStream(did.value(), s -> s.recheck(convoId));
  }

  @Override
  public void userEvent(Did did, String type, String payloadJson) {
    UserEvent event = new UserEvent(type, payloadJson);
    forEachStream(did.value(), s -> s.offerUser(event));
  }

  /** Wakes may have been lost (the bus was down): every feed reads, every stream re-reads its memberships. */
  void resyncAll() {
    feeds.values().forEach(ConvoFeed::wake);
    byDid.values().forEach(set -> set.forEach(Subscription::resync));
  }

  private void forEachStream(String did, Consumer<Subscription> action) {
    Set<Subscription> subs = byDid.get(did);
    if (subs != null) {
      subs.forEach(action);
    }
  }

  // ---- Streams ---------------------------------------------------------------------------------------

  /** Registers an opening stream for user-level wakes (before it reads its memberships, so none is missed). */
  void register(Subscription s) {
    byDid.computeIfAbsent(s.did().value(), k -> ConcurrentHashMap.newKeySet()).add(s);
    if (s.allConvos()) {
      allConvoStreams.add(s);
    }
    if (closed) {
      s.close();
    }
  }

  /** How many streams {@code did} has open on this node. */
  int openStreams(Did did) {
    Set<Subscription> subs = byDid.get(did.value());
    return subs == null ? 0 : subs.size();
  }

  void unregister(Subscription s) {
    byDid.computeIfPresent(s.did().value(), (k, set) -> {
      set.remove(s);
      return set.isEmpty() ? null : set;
    });
    allConvoStreams.remove(s);
  }

  /**
   * Adds {@code s} to the conversation's feed, creating it if needed, and returns once the feed has its
   * starting tail: from then on the feed hands {@code s} every entry it reads.
   */
  void join(Subscription s, String convoId) {
    ConvoFeed feed;
    boolean created = false;
    synchronized (feeds) {
      feed = feeds.get(convoId);
      if (feed == null) {
        feed = new ConvoFeed(convoId, this);
        feeds.put(convoId, feed);
        created = true;
      }
      feed.add(s);
    }
    if (created) {
      try {
        feed.initialize();
      } catch (RuntimeException e) {
        leave(s, convoId);
        throw e;
      }
    } else {
      feed.awaitReady();
    }
  }

  void leave(Subscription s, String convoId) {
    synchronized (feeds) {
      ConvoFeed feed = feeds.get(convoId);
      if (feed != null && feed.remove(s)) {
        feeds.remove(convoId);
      }
    }
  }

  // ---- Shared services ----------------------------------------------------------------------------

  Database db() {
    return db;
  }

  Clock clock() {
    return clock;
  }

  StreamStore store() {
    return store;
  }

  StreamCursors cursors() {
    return cursors;
  }

  TicketStore tickets() {
    return tickets;
  }

  RealtimeSettings settings() {
    return settings;
  }

  RealtimeMetrics metrics() {
    return metrics;
  }

  ExecutorService executor() {
    return executor;
  }

  /** Runs {@code r} after a pause (a failed read is retried rather than waiting for the next wake). */
  void retryLater(Runnable r) {
    submit(() -> {
      try {
        Thread.sleep(RETRY);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      r.run();
    });
  }

  private void submit(Runnable r) {
    try {
      executor.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException e) {
          log.warn("realtime background task failed", e);
        }
      });
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  /** Ends every open stream and stops listening; streams opened afterwards end at once. */
  @Override
  public void close() {
    closed = true;
    if (catchUpThread != null) {
      catchUpThread.interrupt();
    }
    byDid.values().forEach(set -> set.forEach(Subscription::close));
    if (bus != null) {
      bus.close();
    }
    executor.shutdownNow();
  }
}
