package dev.mlsds.server.limits;

import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A node-wide bound on the MLS data that responses being built or written hold at once (H1): a page
 * budget bounds one response, this bounds all of them together, so many callers reading large pages at
 * once queue instead of exhausting the heap.
 *
 * <p>A request scope is opened by the router around each call ({@link #open()} / {@link #close()} on
 * the request's thread); a page {@link #reserve}s the bytes of the rows it is about to load, and
 * everything reserved in the scope is given back when the scope closes, after the response was
 * written. A caller that cannot get its bytes within {@value #WAIT_SECONDS} s gets 503 {@code Unavailable} with
 * {@code Retry-After: 1}. Outside a request scope (services called directly) nothing is reserved.
 */
public final class ResponseMemory {
  static final long WAIT_SECONDS = 10;
  private static final ThreadLocal<List<Held>> SCOPE = new ThreadLocal<>();

  private record Held(ResponseMemory memory, int kib) {}

  private final Semaphore kib;
  private final int maxKib;

  /** {@code maxBytes <= 0}: a quarter of the JVM's maximum heap. */
  public ResponseMemory(long maxBytes) {
    long bytes = maxBytes > 0 ? maxBytes : Runtime.getRuntime().maxMemory() / 4;
    this.maxKib = (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / 1024));
    this.kib = new Semaphore(maxKib, true);
  }

  /** Bytes this node lets responses hold at once. */
  public long maxBytes() {
    return maxKib * 1024L;
  }

  /** Waits (up to {@value #WAIT_SECONDS} s) until {@code bytes} may be held by this request's response. */
  public void reserve(long bytes) {
    List<Held> scope = SCOPE.get();
    if (scope == null || bytes <= 0) {
      return;
    }
    int want = (int) Math.min(maxKib, (bytes + 1023) / 1024);
    try {
      if (!kib.tryAcquire(want, WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw new XrpcException(XrpcError.Unavailable, "the node is serving too much data at once; retry shortly",
            Map.of(), 1);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new XrpcException(XrpcError.Unavailable, "interrupted", Map.of(), 1);
    }
    scope.add(new Held(this, want));
  }

  /** Opens the current thread's request scope. */
  public static void open() {
    SCOPE.set(new ArrayList<>());
  }

  /** Gives back everything reserved in the current thread's scope, and closes it. */
  public static void close() {
    List<Held> scope = SCOPE.get();
    SCOPE.remove();
    if (scope != null) {
      scope.forEach(h -> h.memory.kib.release(h.kib));
    }
  }

  /** Bytes free now (tests, metrics). */
  public long availableBytes() {
    return kib.availablePermits() * 1024L;
  }
}
