package dev.mlsds.server.auth;

import dev.mlsds.server.storage.Database;
import dev.mlsds.server.storage.Sql;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.time.Duration;
import org.jdbi.v3.core.Handle;

/**
 * The {@link ReplayStore} in the database ({@code auth_jti}), so every node sharing one PostgreSQL
 * refuses a token that another node already accepted.
 *
 * <p>Claiming is one {@code INSERT … ON CONFLICT}: the primary key (issuer, jti) decides races between
 * requests and nodes, and a row count of 0 means replay. A row is kept until the token's {@code exp} plus
 * {@link #NODE_CLOCK_MARGIN} (nodes' clocks differ a little, and a token is valid until {@code exp} on
 * each); after that the row may be overwritten by a new token reusing the jti, and {@link #purgeExpired}
 * (run by every node's periodic maintenance) deletes it.
 */
public final class JtiStore implements ReplayStore {
  static final Duration NODE_CLOCK_MARGIN = Duration.ofSeconds(60);
  private static final String CLAIM = """
      INSERT INTO auth_jti (issuer, jti, keep_until) VALUES (:issuer, :jti, :keepUntil)
      ON CONFLICT (issuer, jti) DO UPDATE SET keep_until = excluded.keep_until
      WHERE auth_jti.keep_until < :now""";
  private static final Sql CLAIM_SQL = Sql.of(CLAIM);
  private static final String PURGE = "DELETE FROM auth_jti WHERE keep_until < :now";

  private final Database db;
  private final Clock clock;

  public JtiStore(Database db, Clock clock) {
    this.db = db;
    this.clock = clock;
  }

  @Override
  public boolean firstUse(Did issuer, String jti, long expiresAtEpochSecond) {
    long now = clock.millis();
    long keepUntil = expiresAtEpochSecond * 1000 + NODE_CLOCK_MARGIN.toMillis();
    return db.inTransaction(h -> h.createUpdate(CLAIM).bind("issuer", issuer.value()).bind("jti", jti)
        .bind("keepUntil", keepUntil).bind("now", now).execute()) == 1;
  }

  /**
   * Inside a request scope ({@link Database#inScope}, opened by the router), the jti row joins the
   * transaction of the work (review M1): one commit instead of two, and a request that fails before its
   * work commits has not used its token. The claim is that transaction's first statement, so a replayed
   * token is refused before the work runs (a concurrent second use waits on the first's uncommitted row,
   * then finds it), without a separate look-up of its own. Outside a scope, it is written at once.
   */
  @Override
  public boolean firstUseWithWork(Did issuer, String jti, long expiresAtEpochSecond) {
    long keepUntil = expiresAtEpochSecond * 1000 + NODE_CLOCK_MARGIN.toMillis();
    Database.Participant claim = new Database.Participant() {
      private volatile boolean committed;

      @Override
      public boolean atStart() {
        return true;
      }

      @Override
      public void join(Handle h) {
        if (committed) {
          return;
        }
        int claimed = CLAIM_SQL.update(h, "issuer", issuer.value(), "jti", jti, "keepUntil", keepUntil,
            "now", clock.millis());
        if (claimed == 0) {
          throw new XrpcException(XrpcError.TokenReplayed, "this token (jti) was already used");
        }
        h.afterCommit(() -> committed = true);
      }
    };
    return Database.joinCurrentScope(claim) || firstUse(issuer, jti, expiresAtEpochSecond);
  }

  /** Deletes the rows of tokens that can no longer be valid anywhere; returns how many. */
  public int purgeExpired() {
    long now = clock.millis();
    return db.inTransaction(h -> h.createUpdate(PURGE).bind("now", now).execute());
  }
}
