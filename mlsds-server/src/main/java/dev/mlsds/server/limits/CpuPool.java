package dev.mlsds.server.limits;

import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed pool of platform threads for CPU-heavy request work (KeyPackage signature checks).
 *
 * <p>Why: request handlers run on virtual threads, which the JDK schedules on one carrier per core and
 * never preempts. CPU-bound handlers can take every carrier, and then nothing else runs — not even
 * {@code /health/live} (the 2026-12 review saw it stall 14 s). Work submitted here runs on at most
 * {@code threads} platform threads, so at least the other cores stay free for everything else; the
 * submitting virtual thread just waits (unmounted). At most {@code queue} tasks wait; beyond that a
 * submission is refused with 503 {@code Unavailable} and a {@code Retry-After}, so a flood costs memory
 * in proportion to the queue, not to the number of requests.
 */
public final class CpuPool implements AutoCloseable {
  private final ThreadPoolExecutor executor;

  /** A pool that runs work on the calling thread (unit tests of services, tools). */
  public static CpuPool callerThread() {
    return new CpuPool(null);
  }

  private CpuPool(ThreadPoolExecutor executor) {
    this.executor = executor;
  }

  public CpuPool(String name, int threads, int queue) {
    AtomicInteger n = new AtomicInteger();
    this.executor = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(Math.max(1, queue)), r -> {
          Thread t = new Thread(r, name + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    executor.allowCoreThreadTimeOut(true);
  }

  /** Runs {@code work} on the pool and waits for it; its exceptions are rethrown as they are. */
  public <T> T run(Callable<T> work) {
    if (executor == null) {
      try {
        return work.call();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    Future<T> f;
    try {
      f = executor.submit(work);
    } catch (RejectedExecutionException e) {
      throw new XrpcException(XrpcError.Unavailable, "the server is busy validating; retry shortly", Map.of(), 1);
    }
    try {
      return f.get();
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new XrpcException(XrpcError.Unavailable, "interrupted while waiting for validation");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(cause);
    }
  }

  /** Threads busy right now (metrics, tests). */
  public int active() {
    return executor == null ? 0 : executor.getActiveCount();
  }

  @Override
  public void close() {
    if (executor != null) {
      executor.shutdownNow();
    }
  }
}
