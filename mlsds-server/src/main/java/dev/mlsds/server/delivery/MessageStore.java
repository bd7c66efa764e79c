package dev.mlsds.server.delivery;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.storage.Sql;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * SQL for {@code messages}, the per-conversation log. Rows are immutable once written; the primary key
 * {@code (convo_id, seq)} and the unique {@code (convo_id, msg_id)} are the invariants the database
 * enforces whatever the code above does.
 */
public final class MessageStore {
  /** One log entry as the API shows it ({@code messageView}). */
  public record MessageView(String id, String convoId, long seq, long epoch, String contentType, Did sender,
      byte[] ciphertext, Instant createdAt) {}

  private static final String COLUMNS = "id, convo_id, seq, epoch, content_type, sender_did, data, created_at";
  private static final String INSERT = """
      INSERT INTO messages (convo_id, seq, id, sender_did, epoch, content_type, data, msg_id, created_at)
      VALUES (:convo, :seq, :id, :sender, :epoch, :type, :data, :msgId, :now)""";
  private static final Sql INSERT_SQL = Sql.of(INSERT);
  private static final String SEQ_OF_ID = "SELECT seq FROM messages WHERE convo_id = :convo AND id = :id";
  // msg_id is stored scoped to its sender ("<did> <msgId>", security review L2): another member's msgId never
  // collides with the caller's. Rows written before that hold the bare msgId; they match only their own sender.
  private static final String BY_MSG_ID = "SELECT " + COLUMNS
      + " FROM messages WHERE convo_id = :convo AND (msg_id = :scoped OR (msg_id = :msgId AND sender_did = :sender))";
  // A page is read in two steps: the sizes of the next rows (length() reads no blob: a PostgreSQL TOAST
  // header or SQLite's record header), then only the rows that fit the byte budget.
  private static final String PAGE_SIZES = """
      SELECT seq, length(data) AS size FROM messages WHERE convo_id = :convo AND seq > :since ORDER BY seq LIMIT :limit""";
  private static final String RANGE = """
      SELECT %s FROM messages WHERE convo_id = :convo AND seq > :since AND seq <= :upto ORDER BY seq""".formatted(COLUMNS);
  private static final String COMMIT_FILTER = """
      WHERE convo_id = :convo AND content_type = 'commit' AND epoch >= :from AND epoch <= :to AND seq > :since""";
  private static final String COMMIT_SIZES = "SELECT seq, length(data) AS size FROM messages " + COMMIT_FILTER
      + " ORDER BY seq LIMIT :limit";
  private static final String COMMIT_RANGE = "SELECT " + COLUMNS + " FROM messages " + COMMIT_FILTER
      + " AND seq <= :upto ORDER BY seq";

  public void insert(Handle h, ConvoId convo, long seq, String id, Did sender, long epoch, String contentType,
      byte[] data, String msgId, long now) {
    INSERT_SQL.update(h, "convo", convo.value(), "seq", seq, "id", id, "sender", sender.value(), "epoch", epoch,
        "type", contentType, "data", data, "msgId", msgId == null ? null : scoped(sender, msgId), "now", now);
  }

  /** The seq of the message with server id {@code id} in {@code convo}, if there is one. */
  public Optional<Long> seqOf(Handle h, ConvoId convo, String id) {
    return h.createQuery(SEQ_OF_ID).bind("convo", convo.value()).bind("id", id).mapTo(Long.class).findFirst();
  }

  /** The message {@code sender} sent earlier with {@code msgId} in this conversation (dedupe per sender). */
  public Optional<MessageView> byMsgId(Handle h, ConvoId convo, Did sender, String msgId) {
    return h.createQuery(BY_MSG_ID).bind("convo", convo.value()).bind("scoped", scoped(sender, msgId))
        .bind("msgId", msgId).bind("sender", sender.value()).map((rs, ctx) -> view(rs)).findFirst();
  }

  private static String scoped(Did sender, String msgId) {
    return sender.value() + " " + msgId;
  }

  /**
   * What one page will hold, from the sizes alone: the rows with seq in {@code (since, upto]} (of the
   * query it was planned for), {@code bytes} of data, and whether the log goes on after them.
   */
  public record Plan(String convo, boolean commitsOnly, long from, long to, long since, long upto, long bytes,
      boolean hasMore) {
    public boolean isEmpty() {
      return upto <= since;
    }
  }

  /**
   * Plans the page of messages with seq greater than {@code since}, ascending: at most {@code limit} of
   * them and at most {@code maxBytes} of data, except that a first message larger than that comes alone.
   */
  public Plan planPage(Handle h, ConvoId convo, long since, int limit, long maxBytes) {
    List<long[]> sizes = h.createQuery(PAGE_SIZES).bind("convo", convo.value()).bind("since", since)
        .bind("limit", limit + 1).map((rs, ctx) -> new long[] {rs.getLong("seq"), rs.getLong("size")}).list();
    return plan(convo, false, 0, 0, since, sizes, limit, maxBytes);
  }

  private static final String PAGE_SIZES_BEFORE = """
      SELECT seq, length(data) AS size FROM messages WHERE convo_id = :convo AND seq > :since AND seq < :before
      ORDER BY seq DESC LIMIT :limit""";

  /**
   * Plans the page of the newest messages with seq in {@code (since, before)}, cut like {@link #planPage}
   * from the newest down; {@code hasMore} says older ones remain. The rows load ascending.
   */
  public Plan planNewest(Handle h, ConvoId convo, long since, long before, int limit, long maxBytes) {
    List<long[]> sizes = h.createQuery(PAGE_SIZES_BEFORE).bind("convo", convo.value()).bind("since", since)
        .bind("before", before).bind("limit", limit + 1)
        .map((rs, ctx) -> new long[] {rs.getLong("seq"), rs.getLong("size")}).list();
    int n = fit(sizes, limit, maxBytes);
    if (n == 0) {
      return new Plan(convo.value(), false, 0, 0, since, since, 0, false);
    }
    return new Plan(convo.value(), false, 0, 0, sizes.get(n - 1)[0] - 1, sizes.get(0)[0], total(sizes, n),
        n < sizes.size());
  }

  /** Plans the page of commits for epochs {@code from..to} with seq greater than {@code since}, cut like {@link #planPage}. */
  public Plan planCommits(Handle h, ConvoId convo, long from, long to, long since, int limit, long maxBytes) {
    List<long[]> sizes = h.createQuery(COMMIT_SIZES).bind("convo", convo.value()).bind("from", from).bind("to", to)
        .bind("since", since).bind("limit", limit + 1)
        .map((rs, ctx) -> new long[] {rs.getLong("seq"), rs.getLong("size")}).list();
    return plan(convo, true, from, to, since, sizes, limit, maxBytes);
  }

  /** The rows of a planned page (fewer if retention purged some in between; rows never change). */
  public List<MessageView> load(Handle h, Plan p) {
    if (p.isEmpty()) {
      return List.of();
    }
    var q = h.createQuery(p.commitsOnly() ? COMMIT_RANGE : RANGE).bind("convo", p.convo()).bind("since", p.since())
        .bind("upto", p.upto());
    if (p.commitsOnly()) {
      q.bind("from", p.from()).bind("to", p.to());
    }
    return q.map((rs, ctx) -> view(rs)).list();
  }

  private static Plan plan(ConvoId convo, boolean commits, long from, long to, long since, List<long[]> sizes,
      int limit, long maxBytes) {
    int n = fit(sizes, limit, maxBytes);
    long upto = n == 0 ? since : sizes.get(n - 1)[0];
    return new Plan(convo.value(), commits, from, to, since, upto, total(sizes, n), n < sizes.size());
  }

  private static long total(List<long[]> sizes, int n) {
    long t = 0;
    for (int i = 0; i < n; i++) {
      t += sizes.get(i)[1];
    }
    return t;
  }

  /** How many of the leading {@code (seq, size)} rows fit {@code limit} and {@code maxBytes} (at least one). */
  static int fit(List<long[]> sizes, int limit, long maxBytes) {
    int n = 0;
    long total = 0;
    for (long[] row : sizes) {
      if (n == limit || (n > 0 && total + row[1] > maxBytes)) {
        break;
      }
      total += row[1];
      n++;
    }
    return n;
  }

  static MessageView view(java.sql.ResultSet rs) throws java.sql.SQLException {
    return new MessageView(rs.getString("id"), rs.getString("convo_id"), rs.getLong("seq"), rs.getLong("epoch"),
        rs.getString("content_type"), new Did(rs.getString("sender_did")), rs.getBytes("data"),
        Instant.ofEpochMilli(rs.getLong("created_at")));
  }
}
