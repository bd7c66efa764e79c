package dev.mlsds.server.storage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.UnableToExecuteStatementException;

/**
 * One SQL statement with {@code :name} parameters, run as a plain JDBC {@link PreparedStatement} on a JDBI
 * handle's connection (inside its transaction). For the statements every write runs (sendMessage's: the
 * token's jti claim, the conversation lock, the membership, the quota, the seq, the message): JDBI's
 * per-statement machinery (configuration look-ups, argument factories, statement events, cleanables)
 * cost about twice the PostgreSQL driver's own work on that path in the profile of issue 12. Everything
 * else keeps JDBI.
 *
 * <p>The SQL is parsed once ({@link #of}); values are given as name/value pairs in the order the names first
 * appear in the SQL, which is checked on every call (a mismatch is a programming error, thrown at once).
 * A {@link SQLException} is thrown as JDBI's {@link UnableToExecuteStatementException}, as JDBI would, so
 * {@link Database}'s retry and fault mapping treat both alike.
 */
public final class Sql {
  /** Maps the current row of a result set. */
  @FunctionalInterface
  public interface Row<T> {
    T map(ResultSet rs) throws SQLException;
  }

  private final String sql;
  private final String jdbc;
  private final List<String> names;
  private final int[] slots; // for each '?', the index into names

  private Sql(String sql, String jdbc, List<String> names, int[] slots) {
    this.sql = sql;
    this.jdbc = jdbc;
    this.names = names;
    this.slots = slots;
  }

  /** Parses {@code sql}: each {@code :name} becomes a {@code ?} (not {@code ::casts}, quoted text or comments). */
  public static Sql of(String sql) {
    StringBuilder out = new StringBuilder(sql.length());
    List<String> names = new ArrayList<>();
    List<Integer> slots = new ArrayList<>();
    int n = sql.length();
    for (int i = 0; i < n; i++) {
      char c = sql.charAt(i);
      if (c == '\'' || c == '"') {
        int end = sql.indexOf(c, i + 1);
        if (end < 0) {
          throw new IllegalArgumentException("unterminated quote in: " + sql);
        }
        out.append(sql, i, end + 1);
        i = end;
      } else if (c == ':' && i + 1 < n && sql.charAt(i + 1) == ':') {
        out.append("::");
        i++;
      } else if (c == ':' && i + 1 < n && Character.isJavaIdentifierStart(sql.charAt(i + 1))) {
        int end = i + 1;
        while (end < n && Character.isJavaIdentifierPart(sql.charAt(end))) {
          end++;
        }
        String name = sql.substring(i + 1, end);
        int index = names.indexOf(name);
        if (index < 0) {
          index = names.size();
          names.add(name);
        }
        slots.add(index);
        out.append('?');
        i = end - 1;
      } else {
        out.append(c);
      }
    }
    return new Sql(sql, out.toString(), List.copyOf(names), slots.stream().mapToInt(Integer::intValue).toArray());
  }

  /** The SQL as written, with its {@code :name} parameters. */
  public String sql() {
    return sql;
  }

  /** The SQL as JDBC runs it, each parameter a {@code ?}. */
  String jdbcSql() {
    return jdbc;
  }

  /** Runs an INSERT, UPDATE or DELETE; returns the row count. */
  public int update(Handle h, Object... namesAndValues) {
    try (PreparedStatement ps = prepare(h, namesAndValues)) {
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw failed(e);
    }
  }

  /** The first row the statement returns (a query, or an UPDATE/INSERT ... RETURNING), mapped. */
  public <T> Optional<T> first(Handle h, Row<T> row, Object... namesAndValues) {
    try (PreparedStatement ps = prepare(h, namesAndValues); ResultSet rs = ps.executeQuery()) {
      return rs.next() ? Optional.ofNullable(row.map(rs)) : Optional.empty();
    } catch (SQLException e) {
      throw failed(e);
    }
  }

  /** As {@link #first}, for a statement that always returns a row. */
  public <T> T one(Handle h, Row<T> row, Object... namesAndValues) {
    return first(h, row, namesAndValues)
        .orElseThrow(() -> new IllegalStateException("expected a row from: " + sql));
  }

  private PreparedStatement prepare(Handle h, Object[] namesAndValues) throws SQLException {
    if (namesAndValues.length != names.size() * 2) {
      throw new IllegalArgumentException("expected values for " + names + " in: " + sql);
    }
    for (int i = 0; i < names.size(); i++) {
      if (!names.get(i).equals(namesAndValues[2 * i])) {
        throw new IllegalArgumentException("expected values for " + names + " in that order, got "
            + namesAndValues[2 * i] + " at " + i + " in: " + sql);
      }
    }
    Connection c = h.getConnection();
    PreparedStatement ps = c.prepareStatement(jdbc);
    try {
      for (int i = 0; i < slots.length; i++) {
        ps.setObject(i + 1, namesAndValues[2 * slots[i] + 1]);
      }
    } catch (SQLException | RuntimeException e) {
      ps.close();
      throw e;
    }
    return ps;
  }

  private UnableToExecuteStatementException failed(SQLException e) {
    return new UnableToExecuteStatementException(e.getMessage() + " [statement: " + sql + "]", e, null);
  }
}
