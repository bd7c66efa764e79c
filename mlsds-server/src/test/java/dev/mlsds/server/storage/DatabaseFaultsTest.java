package dev.mlsds.server.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

class DatabaseFaultsTest {
  @Test
  @DisplayName("M2: connection loss, PostgreSQL disk full and shutdown, pool timeouts and SQLite FULL/READONLY/IOERR count as unavailable; bugs do not")
  void classifies() {
    for (String state : new String[] {"08006", "08001", "53100", "53200", "57P01", "57P03", "25006"}) {
      assertThat(DatabaseFaults.isUnavailable(new RuntimeException(new SQLException("x", state)))).as(state).isTrue();
    }
    assertThat(DatabaseFaults.isUnavailable(new SQLTransientConnectionException("pool timeout"))).isTrue();
    for (SQLiteErrorCode code : new SQLiteErrorCode[] {SQLiteErrorCode.SQLITE_FULL, SQLiteErrorCode.SQLITE_READONLY,
        SQLiteErrorCode.SQLITE_IOERR_WRITE, SQLiteErrorCode.SQLITE_BUSY}) {
      assertThat(DatabaseFaults.isUnavailable(new IllegalStateException(new SQLiteException("x", code)))).as(code.name())
          .isTrue();
    }
    assertThat(DatabaseFaults.isUnavailable(new SQLException("syntax", "42601"))).isFalse();
    assertThat(DatabaseFaults.isUnavailable(new SQLException("unique", "23505"))).isFalse();
    assertThat(DatabaseFaults.isUnavailable(new SQLiteException("x", SQLiteErrorCode.SQLITE_CONSTRAINT))).isFalse();
    assertThat(DatabaseFaults.isUnavailable(new IllegalStateException("bug"))).isFalse();
  }

  @Test
  @DisplayName("a request that outlives the shutdown drain meets a closed pool: a transient fault (503), not a bug (500)")
  void closedPoolIsUnavailable(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    Database db = Database.open("jdbc:sqlite:" + dir.resolve("t.db"), new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    db.migrate();
    db.close();
    Throwable write = org.assertj.core.api.Assertions.catchThrowable(() -> db.inTransaction(h -> h.execute("SELECT 1")));
    Throwable read = org.assertj.core.api.Assertions.catchThrowable(() -> db.withHandle(h -> h.execute("SELECT 1")));
    assertThat(write).isNotNull();
    assertThat(read).isNotNull();
    assertThat(DatabaseFaults.isUnavailable(write)).as(String.valueOf(write)).isTrue();
    assertThat(DatabaseFaults.isUnavailable(read)).as(String.valueOf(read)).isTrue();
  }
}
