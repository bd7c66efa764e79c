package dev.mlsds.server.realtime;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One conversation's live feed on this node: when woken, reads the log after its tail once and hands the
 * new entries to every local stream carrying the conversation, with each stream's current membership —
 * one read per node however many streams listen (the alternative, a read per stream, is what the
 * 1,000-subscriber fan-out could not afford).
 *
 * <p>Invariants: {@link #tail} only moves forward, by whole pages read in order, so every entry after the
 * tail the feed started with is handed out exactly once, in order; a stream that joins sees every entry
 * read after its join was registered (the list of streams is taken after each read), and covers everything
 * before by its own backfill (see {@link Subscription}). One drain runs at a time; wakes during a drain
 * make it read again, so none is lost.
 */
final class ConvoFeed {
  private static final Logger log = LoggerFactory.getLogger(ConvoFeed.class);
  private final String convoId;
  private final StreamHub hub;
  private final Set<Subscription> subscribers = ConcurrentHashMap.newKeySet();
  private final CompletableFuture<Void> ready = new CompletableFuture<>();
  private final AtomicBoolean running = new AtomicBoolean();
  private final AtomicBoolean dirty = new AtomicBoolean();
  private volatile LogPosition tail;

  ConvoFeed(String convoId, StreamHub hub) {
    this.convoId = convoId;
    this.hub = hub;
  }

  /** Reads the log's head as the starting tail; called once, by the stream that created the feed. */
  void initialize() {
    try {
      tail = hub.db().withHandle(h -> hub.store().heads(h, List.of(convoId))).getOrDefault(convoId, LogPosition.START);
      ready.complete(null);
    } catch (RuntimeException e) {
      ready.completeExceptionally(e);
      throw e;
    }
  }

  /** Waits until {@link #initialize} has run (in another stream's thread). */
  void awaitReady() {
    ready.join();
  }

  boolean add(Subscription s) {
    return subscribers.add(s);
  }

  /** Returns true when no stream is left. */
  boolean remove(Subscription s) {
    subscribers.remove(s);
    return subscribers.isEmpty();
  }

  /** Whether the log's head {@code head} is past what the feed has read (false before it is initialized). */
  boolean isBehind(LogPosition head) {
    LogPosition t = tail;
    return t != null && head.isAfter(t);
  }

  /** Something was appended to the log (or may have been): read it soon. Never blocks. */
  void wake() {
    dirty.set(true);
    if (running.compareAndSet(false, true)) {
      hub.executor().execute(this::drain);
    }
  }

  private void drain() {
    boolean failed = false;
    try {
      ready.join();
      while (dirty.getAndSet(false)) {
        readToEnd();
      }
    } catch (RuntimeException e) {
      failed = true;
      log.warn("reading conversation log for live streams failed; retrying", e);
    } finally {
      running.set(false);
    }
    if (failed) {
      hub.retryLater(this::wake);
    } else if (dirty.get()) {
      wake();
    }
  }

  private void readToEnd() {
    for (;;) { // ends at the log's end: each round moves the tail forward by a page
      LogPosition from = tail;
      StreamStore.Page read = hub.db().withHandle(h -> hub.store().page(h, convoId, from, StreamStore.PAGE,
          hub.settings().backfillPageBytes()));
      List<LogEntry> page = read.entries();
      if (page.isEmpty()) {
        return;
      }
      // After the page: active now means a member when every entry of the page committed (StreamStore).
      Map<String, Long> members = hub.db().withHandle(h -> hub.store().activeMembers(h, convoId));
      for (Subscription s : subscribers) {
        s.offerLive(convoId, page, members.get(s.did().value()));
      }
      tail = page.get(page.size() - 1).position();
      if (!read.more()) {
        return;
      }
    }
  }
}
