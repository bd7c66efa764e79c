package dev.mlsds.server.storage;

/**
 * The few places where PostgreSQL and SQLite differ. Everything else is plain SQL that both run.
 *
 * <p>Both backends store times as epoch milliseconds in BIGINT columns and bytes as BYTEA/BLOB, so row
 * mapping is the same. Write transactions on SQLite are {@code BEGIN IMMEDIATE} (set on the connection),
 * which serializes writers up front and makes {@link #forUpdate()} unnecessary there.
 */
public enum Dialect {
  POSTGRES, SQLITE;

  /** Row-lock suffix for a SELECT inside a write transaction. */
  public String forUpdate() {
    return this == POSTGRES ? " FOR UPDATE" : "";
  }

  /** Row-lock suffix that skips rows other transactions hold (claiming one-time items). */
  public String forUpdateSkipLocked() {
    return this == POSTGRES ? " FOR UPDATE SKIP LOCKED" : "";
  }

  public String migrationLocation() {
    return this == POSTGRES ? "classpath:db/migration/postgres" : "classpath:db/migration/sqlite";
  }

  public static Dialect forUrl(String jdbcUrl) {
    if (jdbcUrl.startsWith("jdbc:postgresql:")) {
      return POSTGRES;
    }
    if (jdbcUrl.startsWith("jdbc:sqlite:")) {
      return SQLITE;
    }
    throw new IllegalArgumentException("unsupported database URL (jdbc:postgresql: or jdbc:sqlite:): " + jdbcUrl);
  }
}
