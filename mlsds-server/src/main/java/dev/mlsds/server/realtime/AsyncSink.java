package dev.mlsds.server.realtime;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The non-blocking half of an {@link EventSink}: frames are queued and written one write at a time by
 * whichever thread finds the connection idle, or by the transport's completion callback — never by a
 * thread that waits for the client. A conversation's feed can therefore hand the same encoded frame to a
 * thousand streams in one pass without one slow client holding up the others; what a slow client has not
 * taken stays queued here, counted by {@link #pendingFrames()} and {@link #pendingBytes()} (the frames
 * behind the write in flight, as the blocking writer's outbox counted those behind its write), which
 * {@link Subscription} bounds (overflow ends the stream as a slow consumer).
 *
 * <p>A failed write ends the sink: every later call throws, and {@link #onFailure} is run once (the
 * stream then ends). A write that has been in flight for longer than {@code writeTimeout} counts as failed
 * at the next {@link #keepalive()} or {@link #awaitBelow}.
 */
abstract class AsyncSink implements EventSink {
  private final Duration writeTimeout;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progressed = lock.newCondition();
  private final ArrayDeque<Object> queue = new ArrayDeque<>();
  private long queuedBytes; // of the frames in the queue
  private long inFlightBytes; // of the write in flight
  private boolean writing;
  private long writingSince;
  private IOException failed;
  private volatile Runnable onFailure = () -> {};

  AsyncSink(Duration writeTimeout) {
    this.writeTimeout = writeTimeout;
  }

  /** Starts writing {@code frames} (at least one, as queued); completes {@code done} exactly once. */
  protected abstract void write(List<Object> frames, Done done);

  /** Bytes a queued frame pins. */
  protected abstract int size(Object frame);

  /** Whether {@link #write} may take more than one frame per call (a byte stream: SSE). */
  protected abstract boolean batches();

  /** The completion of one {@link #write}. */
  interface Done {
    void succeeded();

    void failed(Throwable t);
  }

  @Override
  public final void onFailure(Runnable r) {
    onFailure = r;
  }

  @Override
  public final int pendingFrames() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public final long pendingBytes() {
    lock.lock();
    try {
      return queuedBytes;
    } finally {
      lock.unlock();
    }
  }

  /** Queues {@code frame} and, when the connection is idle, starts writing it on this thread. */
  protected final void offer(Object frame) throws IOException {
    lock.lock();
    try {
      check();
      queue.add(frame);
      queuedBytes += size(frame);
      if (writing) {
        return;
      }
      writing = true;
      writingSince = System.nanoTime();
    } finally {
      lock.unlock();
    }
    pump();
  }

  /** Under the lock: throws if the sink has failed, or its current write is stuck past the timeout. */
  private void check() throws IOException {
    if (failed == null && writing && System.nanoTime() - writingSince > writeTimeout.toNanos()) {
      failed = new IOException("send timed out");
    }
    if (failed != null) {
      throw failed;
    }
  }

  /** Writes until the queue is empty or a write goes asynchronous; runs with {@code writing} set. */
  private void pump() {
    for (;;) { // one round per write that completed at once
      List<Object> batch = new ArrayList<>();
      lock.lock();
      try {
        if (queue.isEmpty() || failed != null) {
          writing = false;
          progressed.signalAll();
          return;
        }
        batch.add(queue.poll());
        while (batches() && !queue.isEmpty()) {
          batch.add(queue.poll());
        }
        long bytes = 0;
        for (Object f : batch) {
          bytes += size(f);
        }
        queuedBytes -= bytes;
        inFlightBytes = bytes;
        writingSince = System.nanoTime();
      } finally {
        lock.unlock();
      }
      Completion c = new Completion();
      try {
        write(batch, c);
      } catch (RuntimeException e) {
        c.failed(e);
      }
      if (!c.returned()) {
        return; // the completion continues the pump
      }
    }
  }

  /** Tells apart a write that completed inside {@link #write} from one that completes later. */
  private final class Completion implements Done {
    private static final int IN_WRITE = 0;
    private static final int RETURNED = 1;
    private static final int DONE = 2;
    private final AtomicInteger state = new AtomicInteger(IN_WRITE);


    /** Called once write() returned: true when the write is already complete (the caller pumps on). */
    boolean returned() {
      return state.getAndSet(RETURNED) == DONE;
    }

    @Override
    public void succeeded() {
      lock.lock();
      try {
        inFlightBytes = 0;
        progressed.signalAll();
      } finally {
        lock.unlock();
      }
      if (state.getAndSet(DONE) == RETURNED) {
        pump();
      }
    }

    @Override
    public void failed(Throwable t) {
      boolean first;
      lock.lock();
      try {
        first = failed == null;
        if (first) {
          failed = t instanceof IOException io ? io : new IOException("send failed", t);
        }
        queue.clear();
        queuedBytes = 0;
        inFlightBytes = 0;
        writing = false;
        progressed.signalAll();
      } finally {
        lock.unlock();
      }
      state.set(DONE);
      if (first) {
        onFailure.run();
      }
    }
  }

  /**
   * Blocks the calling (stream) thread until at most {@code bytes} are still queued or in flight: the
   * client's pace, for backfill. Throws when the sink failed or a write is stuck past the timeout.
   */
  @Override
  public final void awaitBelow(long bytes) throws IOException {
    long until = System.nanoTime() + writeTimeout.toNanos();
    lock.lock();
    try {
      for (;;) { // until drained enough, failed, or timed out
        check();
        if (queuedBytes + inFlightBytes <= bytes && (bytes > 0 || (queue.isEmpty() && !writing))) {
          return;
        }
        long left = until - System.nanoTime();
        if (left <= 0) {
          failed = new IOException("send timed out");
          throw failed;
        }
        progressed.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    } finally {
      lock.unlock();
    }
  }

  /** The stream ends: waits (at most {@code max}) for what is queued to go out. */
  @Override
  public final void drain(Duration max) {
    long until = System.nanoTime() + max.toNanos();
    lock.lock();
    try {
      while (failed == null && (writing || !queue.isEmpty())) { // until written, failed or out of time
        long left = until - System.nanoTime();
        if (left <= 0) {
          return;
        }
        progressed.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }
}
