package dev.mlsds.server.storage;

import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * Tells a database that is unavailable (down, unreachable, out of connections, out of disk, read-only)
 * apart from a bug. The former is the client's cue to retry later (503 {@code Unavailable}); only the
 * latter is a 500. Nothing here decides whether a transaction committed: every fault it names aborts
 * the transaction it happens in, so the write did not happen and a retry is safe.
 *
 * <p>Recognised: PostgreSQL SQLSTATE classes 08 (connection), 53 (insufficient resources, e.g. 53100
 * disk full), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now), 25006 (read-only
 * transaction), 58030 (I/O error); JDBC connection exceptions (Hikari's "connection is not available"
 * timeout is an {@link SQLTransientConnectionException}); SQLite FULL, BUSY, LOCKED, IOERR, READONLY,
 * CANTOPEN, NOMEM.
 */
public final class DatabaseFaults {
  private DatabaseFaults() {}

  /** True when {@code e} or a cause says the database could not do the work right now. */
  public static boolean isUnavailable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLTransientConnectionException || t instanceof SQLNonTransientConnectionException) {
        return true;
      }
      if (t instanceof SQLiteException s && sqliteUnavailable(s.getResultCode())) {
        return true;
      }
      if (t instanceof SQLException s && s.getSQLState() != null && stateUnavailable(s.getSQLState())) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  static boolean stateUnavailable(String state) {
    return state.startsWith("08") || state.startsWith("53") || state.equals("57P01") || state.equals("57P02")
        || state.equals("57P03") || state.equals("25006") || state.equals("58030");
  }

  private static boolean sqliteUnavailable(SQLiteErrorCode code) {
    if (code == null) {
      return false;
    }
    int primary = code.code & 0xFF;
    return primary == SQLiteErrorCode.SQLITE_FULL.code || primary == SQLiteErrorCode.SQLITE_BUSY.code
        || primary == SQLiteErrorCode.SQLITE_LOCKED.code || primary == SQLiteErrorCode.SQLITE_IOERR.code
        || primary == SQLiteErrorCode.SQLITE_READONLY.code || primary == SQLiteErrorCode.SQLITE_CANTOPEN.code
        || primary == SQLiteErrorCode.SQLITE_NOMEM.code;
  }
}
