package dev.mlsds.server.ops;

import dev.mlsds.server.storage.Database;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The health checks behind {@code /health}, {@code /health/live} and {@code /health/ready}.
 *
 * <p>{@code /health} has exactly the shape the Catbird server's clients and monitors read
 * ({@code {status, timestamp, version, checks: {database, memory}}}); status is {@code unhealthy} (503)
 * when the database cannot be reached, {@code degraded} (200) when the heap is above 90 % of its maximum.
 */
public final class Health {
  /** Heap use above this fraction of {@code -Xmx} is reported as degraded. */
  static final double MEMORY_DEGRADED = 0.90;

  public record Report(String status, long timestamp, String version, Map<String, String> checks) {
    public int httpStatus() {
      return status.equals("unhealthy") ? 503 : 200;
    }
  }

  public record Readiness(String status, Map<String, String> checks) {
    public int httpStatus() {
      return status.equals("ready") ? 200 : 503;
    }
  }

  private final Database db;
  private final Clock clock;
  private final String version;

  public Health(Database db, Clock clock, String version) {
    this.db = db;
    this.clock = clock;
    this.version = version;
  }

  public Report report() {
    Map<String, String> checks = new LinkedHashMap<>();
    boolean dbOk = db.ping();
    checks.put("database", dbOk ? "healthy" : "unhealthy");
    String memory = memoryStatus();
    checks.put("memory", memory);
    String status = !dbOk ? "unhealthy" : memory.equals("healthy") ? "healthy" : "degraded";
    return new Report(status, clock.millis() / 1000, version, checks);
  }

  public Readiness readiness() {
    Map<String, String> checks = new LinkedHashMap<>();
    boolean dbOk = db.ping();
    checks.put("database", dbOk ? "healthy" : "unhealthy");
    boolean migrated = false;
    if (dbOk) {
      try {
        migrated = db.migrationsApplied();
      } catch (RuntimeException e) {
        migrated = false;
      }
    }
    checks.put("migrations", migrated ? "applied" : "pending");
    return new Readiness(dbOk && migrated ? "ready" : "not-ready", checks);
  }

  static String memoryStatus() {
    Runtime rt = Runtime.getRuntime();
    long used = rt.totalMemory() - rt.freeMemory();
    return (double) used / rt.maxMemory() > MEMORY_DEGRADED ? "degraded" : "healthy";
  }
}
