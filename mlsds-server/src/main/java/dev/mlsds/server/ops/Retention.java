package dev.mlsds.server.ops;

import dev.mlsds.server.limits.Quotas;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.storage.Database;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.Query;

/**
 * Retention (docs/limits.md, "Storage, quotas and retention"): the purges the maintenance runs, and
 * their SQL. Each is a bounded batch per run, in one transaction with the quota release of exactly what
 * it deleted ({@code DELETE … RETURNING}: when two nodes purge at once, a row is released by the one
 * whose delete removed it), so several nodes running them is harmless.
 *
 * <ul>
 *   <li>messages, conversation events and commit reports older than the message retention, if one is set
 *       (default: kept forever);</li>
 *   <li>Welcome deliveries in a final state (consumed, failed, unusable, cancelled) created longer ago
 *       than the finished retention, then each Welcome message no delivery points at any more;</li>
 *   <li>conversations closed (every member left) for longer than the finished retention, with all of
 *       their rows, the group-integrity ones (leaf roster, stored proposals, commit reports) included.
 *       The conversation row is locked first, the order every write takes.</li>
 *
 *   <li>stream cursor bases past the newest {@code streamCursorsPerDid} of a DID (M7: one all-conversations
 *       stream writes a base row, as large as the user's conversation list, every few events).</li>
 * </ul>
 *
 * <p>Expired stream cursors and tickets are purged by the realtime feature's own tasks.
 */
public final class Retention {
  static final int BATCH = 1000;
  static final int CONVO_BATCH = 50;

  private final Database db;
  private final Quotas quotas;
  private final StorageLimits limits;
  private final Clock clock;

  public Retention(Database db, Quotas quotas, Clock clock) {
    this.db = db;
    this.quotas = quotas;
    this.limits = quotas.limits();
    this.clock = clock;
  }

  /** Adds the retention tasks to {@code maintenance}. */
  public void register(Maintenance maintenance) {
    maintenance.task("message-retention", this::purgeOldMessages)
        .task("finished-welcomes", this::purgeFinishedWelcomes)
        .task("closed-conversations", this::purgeClosedConvos)
        .task("stream-cursors-per-did", this::purgeExcessStreamCursors);
  }

  private static final String DELETE_OLD_MESSAGES = """
      DELETE FROM messages WHERE (convo_id, seq) IN (
        SELECT convo_id, seq FROM messages WHERE created_at < :before ORDER BY created_at LIMIT :batch)
      RETURNING sender_did, length(data) AS size""";
  private static final String DELETE_OLD_EVENTS = """
      DELETE FROM convo_events WHERE (convo_id, seq, idx) IN (
        SELECT convo_id, seq, idx FROM convo_events WHERE created_at < :before ORDER BY created_at LIMIT :batch)""";
  private static final String DELETE_OLD_REPORTS = """
      DELETE FROM commit_reports WHERE (convo_id, seq, reporter_did) IN (
        SELECT convo_id, seq, reporter_did FROM commit_reports WHERE created_at < :before
        ORDER BY created_at LIMIT :batch)""";

  /** Messages, events and commit reports older than the message retention; 0 when messages are kept forever. */
  public int purgeOldMessages() {
    if (limits.keepsMessagesForever()) {
      return 0;
    }
    long before = clock.millis() - limits.messageRetention().toMillis();
    return db.inTransaction(h -> {
      int n = release(h, h.createQuery(DELETE_OLD_MESSAGES).bind("before", before).bind("batch", BATCH), true);
      n += h.createUpdate(DELETE_OLD_EVENTS).bind("before", before).bind("batch", BATCH).execute();
      return n + h.createUpdate(DELETE_OLD_REPORTS).bind("before", before).bind("batch", BATCH).execute();
    });
  }

  // A bounded batch per run, like every purge (a first run after long downtime must not be one huge delete).
  private static final String DELETE_FINISHED_DELIVERIES = """
      DELETE FROM welcomes WHERE (convo_id, key_package_ref) IN (
        SELECT convo_id, key_package_ref FROM welcomes
        WHERE state IN ('consumed', 'failed', 'unusable', 'cancelled') AND created_at < :before LIMIT :batch)""";
  private static final String DELETE_UNREFERENCED_BLOBS = """
      DELETE FROM welcome_blobs WHERE id IN (
        SELECT b.id FROM welcome_blobs b WHERE b.created_at < :before
          AND NOT EXISTS (SELECT 1 FROM welcomes w WHERE w.blob_id = b.id)
        LIMIT :batch)
      RETURNING sender_did, length(data) AS size""";

  /** Finished Welcome deliveries, then the Welcome messages left without one. */
  public int purgeFinishedWelcomes() {
    long before = clock.millis() - limits.finishedRetention().toMillis();
    return db.inTransaction(h -> {
      int n = h.createUpdate(DELETE_FINISHED_DELIVERIES).bind("before", before).bind("batch", BATCH).execute();
      return n + release(h, h.createQuery(DELETE_UNREFERENCED_BLOBS).bind("before", before).bind("batch", BATCH), false);
    });
  }

  private static final String CLOSED_CONVOS = """
      SELECT c.id FROM convos c WHERE c.closed = TRUE
        AND NOT EXISTS (SELECT 1 FROM members m WHERE m.convo_id = c.id AND (m.active = TRUE OR m.left_at >= :before))
      ORDER BY c.id LIMIT :batch""";
  private static final String LOCK_CLOSED = "SELECT id FROM convos WHERE id = :convo AND closed = TRUE";
  private static final String DELETE_CONVO_MESSAGES = """
      DELETE FROM messages WHERE convo_id = :convo AND seq IN (
        SELECT seq FROM messages WHERE convo_id = :convo ORDER BY seq LIMIT :batch)
      RETURNING sender_did, length(data) AS size""";
  private static final String DELETE_CONVO_BLOBS = """
      DELETE FROM welcome_blobs WHERE convo_id = :convo RETURNING sender_did, length(data) AS size""";
  private static final List<String> DELETE_CONVO_ROWS = List.of(
      "DELETE FROM convo_leaves WHERE convo_id = :convo",
      "DELETE FROM convo_proposals WHERE convo_id = :convo",
      "DELETE FROM commit_reports WHERE convo_id = :convo",
      "DELETE FROM convo_groups WHERE convo_id = :convo",
      "DELETE FROM convo_events WHERE convo_id = :convo",
      "DELETE FROM welcomes WHERE convo_id = :convo",
      "DELETE FROM member_devices WHERE convo_id = :convo",
      "DELETE FROM members WHERE convo_id = :convo");

  /** Conversations closed for longer than the finished retention, each in its own transaction. */
  public int purgeClosedConvos() {
    long before = clock.millis() - limits.finishedRetention().toMillis();
    List<String> ids = db.withHandle(h -> h.createQuery(CLOSED_CONVOS).bind("before", before)
        .bind("batch", CONVO_BATCH).mapTo(String.class).list());
    int purged = 0;
    for (String id : ids) {
      // A long log goes in batches, one transaction each, before the conversation's last transaction.
      while (db.inTransaction(h -> lockClosed(h, id)
          ? release(h, h.createQuery(DELETE_CONVO_MESSAGES).bind("convo", id).bind("batch", BATCH), true) : 0) == BATCH) {
        // next batch
      }
      purged += db.inTransaction(h -> {
        if (!lockClosed(h, id)) {
          return 0;
        }
        release(h, h.createQuery(DELETE_CONVO_MESSAGES).bind("convo", id).bind("batch", Integer.MAX_VALUE), true);
        for (String sql : DELETE_CONVO_ROWS) {
          h.createUpdate(sql).bind("convo", id).execute();
        }
        release(h, h.createQuery(DELETE_CONVO_BLOBS).bind("convo", id), false);
        return h.createUpdate("DELETE FROM convos WHERE id = :convo").bind("convo", id).execute();
      });
    }
    return purged;
  }

  private boolean lockClosed(Handle h, String id) {
    return h.createQuery(LOCK_CLOSED + db.dialect().forUpdate()).bind("convo", id).mapTo(String.class).findFirst()
        .isPresent();
  }

  private static final String DIDS_OVER_CURSOR_CAP = """
      SELECT did FROM stream_cursors GROUP BY did HAVING COUNT(*) > :cap ORDER BY did LIMIT :batch""";
  private static final String DELETE_OLDER_CURSORS = """
      DELETE FROM stream_cursors WHERE did = :did AND id NOT IN (
        SELECT id FROM stream_cursors WHERE did = :did ORDER BY created_at DESC, id DESC LIMIT :cap)""";

  /** Each DID keeps its newest {@code streamCursorsPerDid} cursor bases; a cursor naming an older one is refused. */
  public int purgeExcessStreamCursors() {
    int cap = limits.streamCursorsPerDid();
    if (cap <= 0) {
      return 0;
    }
    List<String> dids = db.withHandle(h -> h.createQuery(DIDS_OVER_CURSOR_CAP).bind("cap", cap)
        .bind("batch", CONVO_BATCH).mapTo(String.class).list());
    int n = 0;
    for (String did : dids) {
      n += db.inTransaction(h -> h.createUpdate(DELETE_OLDER_CURSORS).bind("did", did).bind("cap", cap).execute());
    }
    return n;
  }

  /**
   * Runs a {@code DELETE … RETURNING sender_did, size}, releases each sender's bytes (and rows, for
   * messages), and returns how many rows it deleted.
   */
  private int release(Handle h, Query deleted, boolean messages) {
    Map<String, long[]> bySender = new TreeMap<>(); // released in DID order, like any other lock order
    int rows = 0;
    try (var it = deleted.map((rs, ctx) -> new Object[] {rs.getString("sender_did"), rs.getLong("size")}).iterator()) {
      while (it.hasNext()) {
        Object[] row = it.next();
        rows++;
        if (row[0] != null) {
          long[] t = bySender.computeIfAbsent((String) row[0], k -> new long[2]);
          t[0] += (Long) row[1];
          t[1]++;
        }
      }
    }
    bySender.forEach((did, t) -> quotas.release(h, did, t[0], messages ? t[1] : 0));
    return rows;
  }
}
