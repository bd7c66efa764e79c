package dev.mlsds.server.xrpc;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Idempotent procedure replay backed by the {@code idempotency_records} table, so it holds across nodes.
 *
 * <p>Contract: for one (caller, nsid, key) the call runs at most once while its record lives. The first
 * request claims the key by inserting a row (the primary key decides races between nodes); its result —
 * success or a 4xx error — is stored and every repeat gets exactly that status and body. A repeat that
 * arrives while the first is still running gets 409 {@code IdempotencyConflict}. A 5xx or crash releases
 * the claim, so the client's retry runs again.
 */
public final class IdempotencyStore implements Idempotency {
  private static final String CLAIM = """
      INSERT INTO idempotency_records (caller_did, nsid, idem_key, status, body, created_at)
      VALUES (:did, :nsid, :key, NULL, NULL, :now)
      ON CONFLICT (caller_did, nsid, idem_key) DO NOTHING""";
  private static final String FIND = """
      SELECT status, body FROM idempotency_records WHERE caller_did = :did AND nsid = :nsid AND idem_key = :key""";
  private static final String FINISH = """
      UPDATE idempotency_records SET status = :status, body = :body
      WHERE caller_did = :did AND nsid = :nsid AND idem_key = :key""";
  private static final String RELEASE = """
      DELETE FROM idempotency_records WHERE caller_did = :did AND nsid = :nsid AND idem_key = :key""";
  private static final String PURGE = "DELETE FROM idempotency_records WHERE created_at < :before";

  private final Database db;
  private final Clock clock;

  public IdempotencyStore(Database db, Clock clock) {
    this.db = db;
    this.clock = clock;
  }

  @Override
  public Result run(Did caller, String nsid, String key, Call call) throws Exception {
    boolean claimed = db.inTransaction(h -> h.createUpdate(CLAIM)
        .bind("did", caller.value()).bind("nsid", nsid).bind("key", key).bind("now", clock.millis())
        .execute() == 1);
    if (!claimed) {
      Optional<Result> previous = db.withHandle(h -> h.createQuery(FIND)
          .bind("did", caller.value()).bind("nsid", nsid).bind("key", key)
          .map((rs, ctx) -> rs.getObject("status") == null ? null : new Result(rs.getInt("status"), rs.getString("body")))
          .findFirst());
      return previous.orElseThrow(() -> new XrpcException(XrpcError.IdempotencyConflict,
          "a request with this idempotencyKey is still being processed"));
    }
    Result result;
    try {
      result = call.run();
    } catch (XrpcException e) {
      if (e.status() >= 500 || e.status() == 429) {
        release(caller, nsid, key);
        throw e;
      }
      result = new Result(e.status(), ErrorResponses.body(e));
    } catch (Exception | Error e) {
      release(caller, nsid, key);
      throw e;
    }
    Result stored = result;
    db.inTransaction(h -> h.createUpdate(FINISH).bind("status", stored.status()).bind("body", stored.body())
        .bind("did", caller.value()).bind("nsid", nsid).bind("key", key).execute());
    return result;
  }

  private void release(Did caller, String nsid, String key) {
    db.inTransaction(h -> h.createUpdate(RELEASE).bind("did", caller.value()).bind("nsid", nsid).bind("key", key).execute());
  }

  /** Deletes records older than {@code age} (at least 24 h in production); returns how many. */
  public int purgeOlderThan(Duration age) {
    long before = clock.millis() - age.toMillis();
    return db.inTransaction(h -> h.createUpdate(PURGE).bind("before", before).execute());
  }
}
