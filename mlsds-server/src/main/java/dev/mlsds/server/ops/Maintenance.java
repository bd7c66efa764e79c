package dev.mlsds.server.ops;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Periodic housekeeping every node runs: each named task is an idempotent, bounded database statement
 * (expired KeyPackages and lapsed leases, Welcome grace periods, idempotency records, spent token ids),
 * so several nodes running it at once is harmless. One task failing (say, the database is down) is
 * logged and does not stop the others or the next run.
 */
public final class Maintenance implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Maintenance.class);
  private final Map<String, IntSupplier> tasks = new LinkedHashMap<>();
  private ScheduledExecutorService scheduler;

  /** Adds a task; it returns how many rows it touched (for the log). */
  public Maintenance task(String name, IntSupplier task) {
    tasks.put(name, task);
    return this;
  }

  /** Runs every task once, now, on the caller's thread; returns rows touched per task (-1 if it failed). */
  public Map<String, Integer> runOnce() {
    Map<String, Integer> out = new LinkedHashMap<>();
    tasks.forEach((name, task) -> {
      try {
        int n = task.getAsInt();
        out.put(name, n);
        if (n > 0) {
          log.info("maintenance {}: {} row(s)", name, n);
        }
      } catch (RuntimeException e) {
        out.put(name, -1);
        log.warn("maintenance {} failed: {}", name, e.toString());
      }
    });
    return out;
  }

  public void start(Duration every) {
    scheduler = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("mlsds-maintenance").factory());
    scheduler.scheduleWithFixedDelay(this::runOnce, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
  }
}
