package dev.mlsds.server.xrpc;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * Idempotent procedure replay backed by the {@code idempotency_records} table, so it holds across nodes.
 *
 * <p>Contract: for one (caller, nsid, key) the work is done at most once while its record lives, and a
 * repeat gets exactly the first result (status and body: a success or a 4xx error).
 *
 * <p>The record is written <em>in the same transaction as the work</em> (a {@link Database.Participant}
 * joins every transaction the handler runs), so the two commit or roll back together (review M1):
 * <ul>
 *   <li>a crash, timeout or database error before the work commits leaves no record, and the retry does
 *       the work;</li>
 *   <li>of two concurrent requests with one key, the second's transaction finds the first's record and
 *       rolls back its own work; it then gets the first's result, or 409 {@code IdempotencyConflict}
 *       while the first is still finishing;</li>
 *   <li>where the work's transaction result is the reply ({@link Database#inTransactionReplying}: the
 *       procedures that write, sendMessage, createConvo, addMembers, removeMember, processExternalCommit, resetGroup,
 *       publishKeyPackages and the others listed in docs/RELIABILITY.md), the record is written with its
 *       reply in that transaction, so a retry after any crash gets the committed reply;</li>
 *   <li>otherwise the reply is stored in the statement right after the work's commit. If the node dies in
 *       exactly that gap, the record says "committed" without a body: a retry then gets 409
 *       {@code IdempotencyConflict} saying the work was done, and never does it twice (the kill suite,
 *       benchmarks/faults kill, hit this gap on sendMessage before it recorded its reply with its work).</li>
 * </ul>
 * A call that writes nothing (a 4xx found before any transaction) is recorded after it returns. 5xx, 429
 * and 401 (a replayed token) results are not recorded, so the client's retry runs again.
 */
public final class IdempotencyStore implements Idempotency {
  private static final String CLAIM = """
      INSERT INTO idempotency_records (caller_did, nsid, idem_key, status, body, created_at)
      VALUES (:did, :nsid, :key, NULL, NULL, :now)
      ON CONFLICT (caller_did, nsid, idem_key) DO NOTHING""";
  private static final String RECORD = """
      INSERT INTO idempotency_records (caller_did, nsid, idem_key, status, body, created_at)
      VALUES (:did, :nsid, :key, :status, :body, :now)
      ON CONFLICT (caller_did, nsid, idem_key) DO NOTHING""";
  private static final String FIND = """
      SELECT status, body FROM idempotency_records WHERE caller_did = :did AND nsid = :nsid AND idem_key = :key""";
  private static final String FINISH = """
      UPDATE idempotency_records SET status = :status, body = :body
      WHERE caller_did = :did AND nsid = :nsid AND idem_key = :key""";
  private static final String PURGE = "DELETE FROM idempotency_records WHERE created_at < :before";

  private final Database db;
  private final Clock clock;

  public IdempotencyStore(Database db, Clock clock) {
    this.db = db;
    this.clock = clock;
  }

  /** Another request holds the key: thrown inside the work's transaction to roll it back. */
  private static final class AlreadyClaimed extends RuntimeException {
    AlreadyClaimed() {
      super("idempotency key already claimed", null, false, false);
    }
  }

  /** Inserts the claim into the first transaction of the call that commits. */
  private final class Claim implements Database.Participant {
    final Did caller;
    final String nsid;
    final String key;
    volatile boolean committed;
    /** The reply stored with the work ({@link Database#inTransactionReplying}), else null. */
    volatile String recordedBody;

    Claim(Did caller, String nsid, String key) {
      this.caller = caller;
      this.nsid = nsid;
      this.key = key;
    }

    @Override
    public void join(Handle h) {
      if (committed) {
        return;
      }
      int inserted = h.createUpdate(CLAIM).bind("did", caller.value()).bind("nsid", nsid).bind("key", key)
          .bind("now", clock.millis()).execute();
      if (inserted == 0) {
        throw new AlreadyClaimed();
      }
      h.afterCommit(() -> committed = true);
    }

    /** The transaction's result is the reply: the record is complete when the work commits. */
    @Override
    public void join(Handle h, Object reply) {
      if (committed) {
        return;
      }
      String body = Json.write(reply == null ? java.util.Map.of() : reply);
      int inserted = h.createUpdate(RECORD).bind("did", caller.value()).bind("nsid", nsid).bind("key", key)
          .bind("status", 200).bind("body", body).bind("now", clock.millis()).execute();
      if (inserted == 0) {
        throw new AlreadyClaimed();
      }
      h.afterCommit(() -> {
        committed = true;
        recordedBody = body;
      });
    }
  }

  @Override
  public Result run(Did caller, String nsid, String key, Call call) throws Exception {
    Optional<Optional<Result>> existing = find(caller, nsid, key);
    if (existing.isPresent()) {
      return existing.get().orElseThrow(() -> conflict());
    }
    Claim claim = new Claim(caller, nsid, key);
    Result result;
    try {
      result = Database.withParticipant(claim, call::run);
    } catch (AlreadyClaimed e) {
      return find(caller, nsid, key).flatMap(r -> r).orElseThrow(() -> conflict());
    } catch (XrpcException e) {
      if (e.status() >= 500 || e.status() == 429 || e.status() == 401) {
        throw e;
      }
      result = new Result(e.status(), ErrorResponses.body(e));
    }
    Result stored = result;
    if (claim.committed) {
      if (stored.status() == 200 && stored.body().equals(claim.recordedBody)) {
        return result; // recorded with the work
      }
      db.inTransaction(h -> h.createUpdate(FINISH).bind("status", stored.status()).bind("body", stored.body())
          .bind("did", caller.value()).bind("nsid", nsid).bind("key", key).execute());
      return result;
    }
    int inserted = db.inTransaction(h -> h.createUpdate(RECORD).bind("did", caller.value()).bind("nsid", nsid)
        .bind("key", key).bind("status", stored.status()).bind("body", stored.body()).bind("now", clock.millis())
        .execute());
    if (inserted == 0) {
      // A concurrent request with the key recorded first: every repeat must see one answer, theirs.
      return find(caller, nsid, key).flatMap(r -> r).orElseThrow(() -> conflict());
    }
    return result;
  }

  /** Empty when no record; a record with an empty result when its work committed but no body is stored yet. */
  private Optional<Optional<Result>> find(Did caller, String nsid, String key) {
    return db.withHandle(h -> h.createQuery(FIND)
        .bind("did", caller.value()).bind("nsid", nsid).bind("key", key)
        .map((rs, ctx) -> rs.getObject("status") == null ? Optional.<Result>empty()
            : Optional.of(new Result(rs.getInt("status"), rs.getString("body"))))
        .findFirst());
  }

  private static XrpcException conflict() {
    return new XrpcException(XrpcError.IdempotencyConflict, "a request with this idempotencyKey has done its work "
        + "and its reply is not recorded yet (or was lost in a crash); read the current state instead of retrying");
  }

  /** Deletes records older than {@code age} (at least 24 h in production); returns how many. */
  public int purgeOlderThan(Duration age) {
    long before = clock.millis() - age.toMillis();
    return db.inTransaction(h -> h.createUpdate(PURGE).bind("before", before).execute());
  }
}
