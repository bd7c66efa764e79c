package dev.mlsds.server.limits;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Requests in flight per caller DID on this node. A per-minute rate does not bound concurrency: one
 * identity could hold hundreds of slow 10 MB requests at once, each buffering its body and parsing it
 * (review M4). A caller with {@code max} requests running gets 429 {@code RateLimitExceeded} with
 * {@code Retry-After: 1} for the next one until one finishes.
 *
 * <p>Counters exist only while a caller has a request running (the map holds no idle callers), so memory
 * is bounded by the requests being served.
 */
public final class InFlight {
  private final int max;
  private final ConcurrentHashMap<String, AtomicInteger> running = new ConcurrentHashMap<>();

  public InFlight(int max) {
    this.max = max;
  }

  /** A slot held until {@link Permit#close()}. */
  public interface Permit extends AutoCloseable {
    @Override
    void close();
  }

  /** Takes one of {@code caller}'s slots, or throws 429 when all are taken. */
  public Permit acquire(Did caller) {
    String key = caller.value();
    boolean[] refused = {false};
    running.compute(key, (k, n) -> {
      AtomicInteger c = n == null ? new AtomicInteger() : n;
      if (c.get() >= max) {
        refused[0] = true;
      } else {
        c.incrementAndGet();
      }
      return c;
    });
    if (refused[0]) {
      running.computeIfPresent(key, (k, n) -> n.get() == 0 ? null : n);
      throw new XrpcException(XrpcError.RateLimitExceeded,
          "too many requests in flight for this caller (at most " + max + " at once)", Map.of(), 1);
    }
    return () -> running.computeIfPresent(key, (k, n) -> n.decrementAndGet() == 0 ? null : n);
  }

  /** Callers with at least one request running (tests: the map does not grow with idle callers). */
  int trackedCallers() {
    return running.size();
  }
}
