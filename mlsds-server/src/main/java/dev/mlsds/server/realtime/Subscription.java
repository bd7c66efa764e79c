package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open event stream of one user — one conversation, or all of theirs — following the outbox model of
 * atproto's event streams: register for wakes, backfill from the database, cut over to the live feeds, then
 * live, de-duplicated by position, with a bounded buffer whose overflow ends the stream as a slow consumer.
 *
 * <p><b>Threads.</b> {@link #run} is the stream's own thread: it reads backfill, applies membership changes
 * and writes what feeds and the bus {@code offer} into its bounded outbox. Nobody ever waits for a client:
 * writes go to the {@link EventSink}, which queues them and writes without blocking. While the stream
 * thread is parked with nothing to do ({@code parked}, under the lock), a feed writes a live entry itself
 * — the same encoded frame for every one-conversation stream — instead of waking the thread: one writer per
 * conversation feed, not one woken thread per subscriber. The positions are the stream thread's, except
 * while it is parked, when they are the feed's under the lock; so they are never touched by both at once.
 *
 * <p><b>Exactness</b>, per conversation: the stream keeps the position of the last entry it wrote (or
 * skipped as not visible) and writes an entry only if it lies after it, so nothing is written twice and
 * entries go out in log order. Nothing is missed: the stream joins the conversation's feed <em>before</em>
 * it reads the log's head and backfills, so every entry is either read by its backfill (committed before
 * that read) or handed to it by the feed (read after the join), and the feed hands out every entry after
 * its tail once, in order ({@link ConvoFeed}).
 *
 * <p><b>Membership.</b> A user sees a conversation's entries after the Commit that added them and while
 * they are a member; every read checks the membership after reading the entries, so nothing that committed
 * after a removal is written. A removal (or addition) reaches the stream as a recheck, from the feed or from
 * the {@code membershipEvent}'s wake, and takes effect before anything still queued.
 */
final class Subscription {
  private static final Logger log = LoggerFactory.getLogger(Subscription.class);
  private static final String READY = "ready";
  private static final String SLOW_CONSUMER = "slow-consumer";
  private static final java.time.Duration DRAIN_AT_END = java.time.Duration.ofSeconds(2);

  /** Why a stream stops before its client leaves. */
  private enum End { SLOW, CLOSED }

  private final StreamHub hub;
  private final Did did;
  private final String oneConvo;
  private final LogPosition oneConvoFrom;
  private final StreamCursors.Tracker cursor;
  private final RealtimeMetrics.Transport transport;

  // The outbox, filled by feeds and the bus, drained by run().
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<Outbound> queue = new ArrayDeque<>();
  private long queuedBytes;
  private final Set<String> rechecks = new LinkedHashSet<>();
  private boolean resync;
  private End end;
  /** The stream thread waits in {@link #next} with nothing to do: a feed may write live entries itself. */
  private boolean parked;
  /** Set once {@link #run} has its sink (read and written under the lock). */
  private EventSink sink;

  // The stream thread's own state: the conversations it carries, its position in each, and the id of the
  // last event it wrote (first the start's).
  private final Map<String, LogPosition> carried = new HashMap<>();
  private String lastId;

  /** A stream of one conversation, resuming after {@code from} (null: from the log's head). */
  static Subscription ofConvo(StreamHub hub, Did did, String convo, LogPosition from, RealtimeMetrics.Transport t) {
    return new Subscription(hub, did, convo, from, null, t);
  }

  /** A stream of all the user's conversations; {@code cursor} says where it resumes and names its events. */
  static Subscription ofAll(StreamHub hub, Did did, StreamCursors.Tracker cursor, RealtimeMetrics.Transport t) {
    return new Subscription(hub, did, null, null, cursor, t);
  }

  private Subscription(StreamHub hub, Did did, String oneConvo, LogPosition oneConvoFrom, StreamCursors.Tracker cursor,
      RealtimeMetrics.Transport transport) {
    this.hub = hub;
    this.did = did;
    this.oneConvo = oneConvo;
    this.oneConvoFrom = oneConvoFrom;
    this.cursor = cursor;
    this.transport = transport;
  }

  Did did() {
    return did;
  }

  boolean allConvos() {
    return oneConvo == null;
  }

  // ---- Called by feeds, the hub and the transport (any thread, never blocking) -----------------------

  /**
   * New entries of {@code convo} read by its feed; {@code joinedSeq} is the user's membership at that read
   * (null: not a member). Overflowing the outbox ends the stream as a slow consumer.
   */
  void offerLive(String convo, List<LogEntry> entries, Long joinedSeq) {
    if (joinedSeq == null) {
      recheck(convo);
      return;
    }
    lock.lock();
    try {
      int i = 0;
      if (parked && end == null && queue.isEmpty() && rechecks.isEmpty() && !resync) {
        i = writeLive(entries, joinedSeq);
        if (i == entries.size() || end != null) {
          return;
        }
      }
      for (; i < entries.size(); i++) {
        LogEntry e = entries.get(i);
        if (e.visibleTo(did, joinedSeq) && !enqueue(e)) {
          return;
        }
      }
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock, the stream thread parked: writes {@code entries} to the sink on the calling (feed)
   * thread. Returns how many it handled; it stops early at an entry whose id would need a database write
   * (a new all-conversations cursor base), which the stream thread then writes from the outbox.
   */
  private int writeLive(List<LogEntry> entries, long joinedSeq) {
    RealtimeSettings s = hub.settings();
    for (int i = 0; i < entries.size(); i++) {
      LogEntry e = entries.get(i);
      if (!e.visibleTo(did, joinedSeq)) {
        continue;
      }
      if (cursor != null && !cursor.idWithoutWrite(e.convoId())) {
        return i;
      }
      if (sink.pendingFrames() > 0 && (sink.pendingFrames() >= s.bufferEvents()
          || sink.pendingBytes() + e.weight() > s.bufferBytes())) {
        hub.metrics().slowConsumer();
        finish(End.SLOW);
        return i;
      }
      try {
        write(sink, e, true);
      } catch (IOException x) {
        finish(End.CLOSED);
        return i;
      } catch (RuntimeException x) {
        log.warn("live write failed; the stream ends and the client resumes from its cursor", x);
        finish(End.CLOSED);
        return i;
      }
    }
    return entries.size();
  }

  void offerUser(UserEvent event) {
    lock.lock();
    try {
      if (enqueue(event)) {
        changed.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /** The user's membership of {@code convo} may have changed. */
  void recheck(String convo) {
    if (oneConvo != null && !oneConvo.equals(convo)) {
      return;
    }
    lock.lock();
    try {
      rechecks.add(convo);
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  /** Wakes may have been lost: re-read the memberships. */
  void resync() {
    lock.lock();
    try {
      resync = true;
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  /** Ends the stream (client gone, node stopping). */
  void close() {
    finish(End.CLOSED);
  }

  /** Under the lock. False when the outbox is full: the stream is then ended as a slow consumer. */
  private boolean enqueue(Outbound o) {
    if (end != null) {
      return false;
    }
    RealtimeSettings s = hub.settings();
    int frames = queue.size() + (sink == null ? 0 : sink.pendingFrames());
    long bytes = queuedBytes + (sink == null ? 0 : sink.pendingBytes());
    if (frames > 0 && (frames >= s.bufferEvents() || bytes + o.weight() > s.bufferBytes())) {
      hub.metrics().slowConsumer();
      finish(End.SLOW);
      return false;
    }
    queue.add(o);
    queuedBytes += o.weight();
    return true;
  }

  private void finish(End why) {
    lock.lock();
    try {
      if (end == null) {
        end = why;
        queue.clear();
        queuedBytes = 0;
      }
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  // ---- The stream's own thread -------------------------------------------------------------------------

  /** What the stream thread does next. */
  private sealed interface Work {}

  private record Idle() implements Work {}

  private record Stop(End why) implements Work {}

  private record Recheck(String convo) implements Work {}

  private record Resync() implements Work {}

  private record Send(Outbound item) implements Work {}

  /**
   * Runs the stream on the calling thread until it ends: the client leaves (a write fails), falls too far
   * behind (an {@code infoEvent} then says so), loses access to its one conversation, or the node stops.
   *
   * <p>The first event is {@code infoEvent} "ready", written once the stream has joined its feeds and fixed
   * its starting positions: its cursor is that start, and a client that has seen it misses nothing
   * committed from then on (nor anything after the start, if it resumes from that cursor).
   */
  void run(EventSink sink) {
    hub.metrics().opened(transport);
    sink.onFailure(this::close);
    lock.lock();
    try {
      this.sink = sink;
    } finally {
      lock.unlock();
    }
    hub.register(this);
    try {
      start(sink);
      while (carriesSomething()) { // ends when a write fails, or on Stop
        switch (next()) {
          case Idle i -> sink.keepalive();
          case Stop s -> {
            if (s.why() == End.SLOW) {
              // After what is already queued: lastId is the last event handed to the sink.
              sink.event("infoEvent", lastId, Json.write(new Info(lastId, SLOW_CONSUMER, SLOW_CONSUMER)));
              sink.error("ConsumerTooSlow", "the client fell behind; resume from the last cursor");
              sink.drain(hub.settings().writeTimeout());
            }
            return;
          }
          case Recheck r -> recheck(sink, r.convo());
          case Resync r -> resync(sink);
          case Send s -> send(sink, s.item());
        }
      }
      sink.error("NotMember", "no longer a member of the conversation");
      sink.drain(hub.settings().writeTimeout());
    } catch (IOException e) {
      log.debug("stream client went away: {}", e.toString());
    } catch (RuntimeException e) {
      log.warn("stream ended by an error; the client resumes from its cursor", e);
    } finally {
      close();
      sink.drain(DRAIN_AT_END); // the response must not complete under a write in flight
      hub.unregister(this);
      for (String convo : List.copyOf(carried.keySet())) {
        hub.leave(this, convo);
      }
      hub.metrics().closed(transport);
    }
  }

  /** {@code infoEvent}: the seed lexicon's {@code cursor} and {@code info}, and API.md's {@code reason}. */
  private record Info(String cursor, String info, String reason) {}

  private boolean carriesSomething() {
    return oneConvo == null || carried.containsKey(oneConvo);
  }

  private Work next() {
    long wait = hub.settings().keepalive().toNanos();
    lock.lock();
    try {
      for (;;) { // returns once there is work, or when the keepalive interval passed without any
        if (end != null) {
          return new Stop(end);
        }
        if (!rechecks.isEmpty()) {
          String convo = rechecks.iterator().next();
          rechecks.remove(convo);
          return new Recheck(convo);
        }
        if (resync) {
          resync = false;
          return new Resync();
        }
        Outbound o = queue.poll();
        if (o != null) {
          queuedBytes -= o.weight();
          return new Send(o);
        }
        if (wait <= 0) {
          return new Idle();
        }
        parked = true;
        try {
          wait = changed.awaitNanos(wait);
        } finally {
          parked = false;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Stop(End.CLOSED);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Joins the feeds, positions every conversation, says "ready" with the start's cursor, then backfills the
   * conversations behind their head.
   */
  private void start(EventSink sink) throws IOException {
    Map<String, Long> joined = oneConvo != null
        ? hub.db().withHandle(h -> hub.store().membership(h, oneConvo, did)).map(j -> Map.of(oneConvo, j)).orElse(Map.of())
        : hub.db().withHandle(h -> hub.store().memberships(h, did));
    for (String convo : joined.keySet()) {
      carried.put(convo, LogPosition.START); // so that the finally of run() leaves the feed
      hub.join(this, convo);
    }
    Map<String, LogPosition> heads = hub.db().withHandle(h -> hub.store().heads(h, joined.keySet()));
    Set<String> behind = new HashSet<>();
    boolean resuming = oneConvo != null ? oneConvoFrom != null : cursor.resumed();
    Map<String, LogPosition> from = oneConvo != null
        ? (oneConvoFrom == null ? Map.of() : Map.of(oneConvo, oneConvoFrom)) : cursor.resumeAt();
    joined.forEach((convo, joinedSeq) -> {
      LogPosition head = heads.getOrDefault(convo, LogPosition.START);
      LogPosition at = resuming ? from.getOrDefault(convo, LogPosition.START) : head;
      at = LogPosition.max(at, LogPosition.afterJoin(joinedSeq));
      carried.put(convo, at);
      if (head.isAfter(at)) {
        behind.add(convo);
      }
    });
    if (!carriesSomething()) {
      return; // lost its one conversation since the request was checked
    }
    lastId = oneConvo != null ? carried.get(oneConvo).toString() : cursor.start(carried);
    sink.event("infoEvent", lastId, Json.write(new Info(lastId, READY, null)));
    for (String convo : behind) {
      catchUp(sink, convo);
    }
  }

  /** Writes what {@code convo}'s log holds after the stream's position, page by page, at the client's pace. */
  private void catchUp(EventSink sink, String convo) throws IOException {
    for (;;) { // ends at the log's end: each page moves the position forward
      LogPosition from = carried.get(convo);
      if (from == null) {
        return;
      }
      StreamStore.Page read = hub.db().withHandle(h -> hub.store().page(h, convo, from, StreamStore.PAGE,
          hub.settings().backfillPageBytes()));
      List<LogEntry> page = read.entries();
      Optional<Long> joined = hub.db().withHandle(h -> hub.store().membership(h, convo, did));
      if (joined.isEmpty()) {
        drop(convo);
        return;
      }
      for (LogEntry e : page) {
        if (e.visibleTo(did, joined.get())) {
          write(sink, e, false);
        } else {
          carried.put(convo, e.position());
        }
      }
      // The client's pace: read the next page once the client has taken all but two pages' worth.
      sink.awaitBelow(2 * hub.settings().backfillPageBytes());
      if (!read.more()) {
        return;
      }
    }
  }

  /** Applies the user's current membership of {@code convo}: stop carrying it, or start (from the join). */
  private void recheck(EventSink sink, String convo) throws IOException {
    Optional<Long> joined = hub.db().withHandle(h -> hub.store().membership(h, convo, did));
    if (joined.isEmpty()) {
      drop(convo);
    } else if (!carried.containsKey(convo) && oneConvo == null) {
      hub.join(this, convo);
      carried.put(convo, LogPosition.afterJoin(joined.get()));
      catchUp(sink, convo);
    }
  }

  private void resync(EventSink sink) throws IOException {
    if (oneConvo != null) {
      recheck(sink, oneConvo);
      return;
    }
    Map<String, Long> joined = hub.db().withHandle(h -> hub.store().memberships(h, did));
    for (String convo : List.copyOf(carried.keySet())) {
      if (!joined.containsKey(convo)) {
        drop(convo);
      }
    }
    for (String convo : joined.keySet()) {
      if (!carried.containsKey(convo)) {
        recheck(sink, convo);
      }
    }
  }

  private void drop(String convo) {
    if (carried.remove(convo) != null) {
      hub.leave(this, convo);
    }
  }

  private void send(EventSink sink, Outbound item) throws IOException {
    switch (item) {
      case LogEntry e -> write(sink, e, true);
      case UserEvent u -> sink.event(u.type(), null, u.json());
    }
  }

  /** Writes {@code e} unless the stream no longer carries its conversation or already went past it. */
  private void write(EventSink sink, LogEntry e, boolean live) throws IOException {
    LogPosition last = carried.get(e.convoId());
    if (last == null || !e.position().isAfter(last)) {
      return;
    }
    carried.put(e.convoId(), e.position());
    String id = oneConvo != null ? e.positionText() : cursor.idFor(e.convoId(), e.position(), carried);
    lastId = id;
    sink.entry(e, id);
    if (live) {
      hub.metrics().fanOut(hub.clock().millis() - e.createdAt());
    }
  }
}
