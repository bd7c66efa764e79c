package dev.mlsds.server.ops;

import dev.mlsds.server.storage.Database;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The health checks behind {@code /health}, {@code /health/live} and {@code /health/ready}.
 *
 * <p>{@code /health} has exactly the shape the Catbird server's clients and monitors read
 * ({@code {status, timestamp, version, checks: {database, memory}}}); status is {@code unhealthy} (503)
 * when the database cannot be reached, {@code degraded} (200) when the heap is above 90 % of its maximum.
 * Both also report {@code storage}: whether a committed write succeeds ({@code unwritable} when the
 * database is read-only or out of disk) and, for SQLite, whether the file's volume has at least the
 * configured free space ({@code low-disk}). {@code /health} is then {@code degraded}, and
 * {@code /health/ready} is not ready, so a load balancer stops sending writes to a node that can only
 * answer them with 503 (review M2).
 *
 * <p>The write probe upserts one row per node in {@code auth_jti} under the issuer {@value #PROBE_ISSUER}
 * (not a DID, so no token can collide with it) that expires like a token's and is purged with them: no
 * table of its own, and it commits like every real write, so it fails exactly when they would.
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

  static final String PROBE_ISSUER = "mlsds:health-probe";
  private static final String PROBE = """
      INSERT INTO auth_jti (issuer, jti, keep_until) VALUES (:issuer, :node, :keepUntil)
      ON CONFLICT (issuer, jti) DO UPDATE SET keep_until = excluded.keep_until""";

  private final Database db;
  private final Clock clock;
  private final String version;
  private final long minFreeDiskBytes;
  private final String node = java.util.UUID.randomUUID().toString();

  public Health(Database db, Clock clock, String version) {
    this(db, clock, version, 0);
  }

  public Health(Database db, Clock clock, String version, long minFreeDiskBytes) {
    this.db = db;
    this.clock = clock;
    this.version = version;
    this.minFreeDiskBytes = minFreeDiskBytes;
  }

  /** {@code ok}, {@code unwritable} or {@code low-disk}. */
  String storageStatus() {
    try {
      db.inTransaction(h -> h.createUpdate(PROBE).bind("issuer", PROBE_ISSUER).bind("node", node)
          .bind("keepUntil", clock.millis() + 60_000).execute());
    } catch (RuntimeException e) {
      return "unwritable";
    }
    Optional<Path> file = db.sqliteFile();
    if (file.isPresent() && minFreeDiskBytes > 0) {
      try {
        Path dir = file.get().toAbsolutePath().getParent();
        if (Math.min(Files.getFileStore(dir).getUsableSpace(), sqliteRoomLeft()) < minFreeDiskBytes) {
          return "low-disk";
        }
      } catch (IOException | RuntimeException e) {
        return "low-disk";
      }
    }
    return "ok";
  }

  /** Bytes the SQLite file may still grow by under its {@code max_page_count}, plus its free pages. */
  private long sqliteRoomLeft() {
    return db.withHandle(h -> {
      long pageSize = pragma(h, "page_size");
      long room = pragma(h, "max_page_count") - pragma(h, "page_count") + pragma(h, "freelist_count");
      return room * pageSize;
    });
  }

  private static long pragma(org.jdbi.v3.core.Handle h, String name) {
    return h.createQuery("PRAGMA " + name).mapTo(Long.class).one();
  }

  public Report report() {
    Map<String, String> checks = new LinkedHashMap<>();
    boolean dbOk = db.ping();
    checks.put("database", dbOk ? "healthy" : "unhealthy");
    String memory = memoryStatus();
    checks.put("memory", memory);
    String storage = dbOk ? storageStatus() : "unwritable";
    checks.put("storage", storage);
    String status = !dbOk ? "unhealthy"
        : memory.equals("healthy") && storage.equals("ok") ? "healthy" : "degraded";
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
    String storage = dbOk && migrated ? storageStatus() : "unwritable";
    checks.put("storage", storage);
    return new Readiness(dbOk && migrated && storage.equals("ok") ? "ready" : "not-ready", checks);
  }

  static String memoryStatus() {
    Runtime rt = Runtime.getRuntime();
    long used = rt.totalMemory() - rt.freeMemory();
    return (double) used / rt.maxMemory() > MEMORY_DEGRADED ? "degraded" : "healthy";
  }
}
