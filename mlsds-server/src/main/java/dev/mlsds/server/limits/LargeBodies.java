package dev.mlsds.server.limits;

import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A node-wide limit on requests with a large body being parsed and handled at once.
 *
 * <p>Why: decoding megabytes of JSON and base64 and then MLS is CPU work that runs on the virtual thread
 * of the request, and virtual threads are never preempted: a handful of 8 MB uploads could hold every
 * carrier, and then even {@code /health/live} waits (review H2, M4). Bodies above {@link #threshold}
 * take a permit first (fair, so in arrival order), and there are fewer permits than carriers, so small
 * requests always find a carrier. A request waits at most {@link #MAX_WAIT_SECONDS} for its permit, then
 * gets 503 {@code Unavailable} with a {@code Retry-After}. Waiting costs no thread (the virtual thread
 * unmounts). The body itself is read before the permit, so a slow sender holds no permit.
 */
public final class LargeBodies {
  /** Bodies of at least this many bytes take a permit. */
  public static final int DEFAULT_THRESHOLD = 256 * 1024;
  static final long MAX_WAIT_SECONDS = 30;
  private final Semaphore permits;
  private final int threshold;

  public LargeBodies(int permits, int threshold) {
    this.permits = new Semaphore(permits, true);
    this.threshold = threshold;
  }

  /** A held permit (or nothing for a small body), released by {@link Permit#close()}. */
  public interface Permit extends AutoCloseable {
    @Override
    void close();
  }

  public Permit enter(long bodyBytes) {
    if (bodyBytes < threshold) {
      return () -> { };
    }
    try {
      if (!permits.tryAcquire(MAX_WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw new XrpcException(XrpcError.Unavailable, "the server is busy with large requests; retry shortly",
            Map.of(), 1);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new XrpcException(XrpcError.Unavailable, "interrupted while waiting to handle a large request");
    }
    return permits::release;
  }
}
