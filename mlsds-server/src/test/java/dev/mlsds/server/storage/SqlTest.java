package dev.mlsds.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.testing.TestDatabases;
import java.util.Optional;
import org.jdbi.v3.core.JdbiException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link Sql}: named parameters to JDBC, values checked by name, failures as JDBI's, on a real SQLite file. */
class SqlTest {
  Database db;

  @BeforeEach
  void open() {
    db = Database.open(TestDatabases.sqlite(), null);
    db.inTransaction(h -> h.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, b BLOB, s TEXT)"));
  }

  @AfterEach
  void close() {
    db.close();
  }

  static final Sql INSERT = Sql.of("INSERT INTO t (k, n, b, s) VALUES (:k, :n, :b, :s)");
  static final Sql BUMP = Sql.of("UPDATE t SET n = n + :by WHERE k = :k AND n < :by + 1000 RETURNING n, 'a:b' AS q");
  static final Sql FIND = Sql.of("SELECT k, n, b, s FROM t WHERE k = :k");

  @Test
  void namedParametersAreBoundWhereverTheyAppear() {
    int inserted = db.inTransaction(h -> INSERT.update(h, "k", "x", "n", 5L, "b", new byte[] {1, 2}, "s", null));
    assertThat(inserted).isEqualTo(1);
    // :by appears twice; ':b' inside a quoted string is text, not a parameter.
    String got = db.inTransaction(h -> BUMP.one(h, rs -> rs.getLong("n") + " " + rs.getString("q"), "by", 3L, "k", "x"));
    assertThat(got).isEqualTo("8 a:b");
    Optional<String> row = db.withHandle(h -> FIND.first(h,
        rs -> rs.getString("k") + rs.getLong("n") + rs.getBytes("b").length + rs.getString("s"), "k", "x"));
    assertThat(row).contains("x82null");
    Optional<String> none = db.withHandle(h -> FIND.first(h, rs -> rs.getString("k"), "k", "nope"));
    assertThat(none).isEmpty();
  }

  @Test
  void castsQuotedTextAndQuotedNamesAreNotParameters() {
    assertThat(Sql.of("SELECT :v::text, '::x :y', \"a:b\" FROM t WHERE k = :k_2").jdbcSql())
        .isEqualTo("SELECT ?::text, '::x :y', \"a:b\" FROM t WHERE k = ?");
  }

  @Test
  void valuesMustBeNamedInTheOrderTheNamesFirstAppear() {
    assertThatThrownBy(() -> db.withHandle(h -> FIND.first(h, rs -> 1, "key", "x")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[k]");
    assertThatThrownBy(() -> db.inTransaction(h -> BUMP.one(h, rs -> 1, "k", "x", "by", 3L)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[by, k]");
    assertThatThrownBy(() -> db.inTransaction(h -> INSERT.update(h, "k", "x")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aFailingStatementIsAJdbiExceptionWithItsSqlStateAndRollsBackItsTransaction() {
    db.inTransaction(h -> INSERT.update(h, "k", "x", "n", 1L, "b", null, "s", "first"));
    assertThatThrownBy(() -> db.inTransaction(h -> {
      INSERT.update(h, "k", "y", "n", 1L, "b", null, "s", "second");
      return INSERT.update(h, "k", "x", "n", 1L, "b", null, "s", "duplicate");
    })).isInstanceOf(JdbiException.class).hasMessageContaining("INSERT INTO t")
        .hasRootCauseInstanceOf(java.sql.SQLException.class);
    long rows = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM t").mapTo(Long.class).one());
    assertThat(rows).isEqualTo(1L);
  }
}
