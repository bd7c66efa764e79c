package dev.mlsds.server.delivery;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
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
  private static final String BY_MSG_ID = "SELECT " + COLUMNS + " FROM messages WHERE convo_id = :convo AND msg_id = :msgId";
  private static final String PAGE = """
      SELECT %s FROM messages WHERE convo_id = :convo AND seq > :since ORDER BY seq LIMIT :limit""".formatted(COLUMNS);
  private static final String COMMITS = """
      SELECT %s FROM messages
      WHERE convo_id = :convo AND content_type = 'commit' AND epoch >= :from AND epoch <= :to AND seq > :since
      ORDER BY seq LIMIT :limit""".formatted(COLUMNS);

  public void insert(Handle h, ConvoId convo, long seq, String id, Did sender, long epoch, String contentType,
      byte[] data, String msgId, long now) {
    h.createUpdate(INSERT).bind("convo", convo.value()).bind("seq", seq).bind("id", id).bind("sender", sender.value())
        .bind("epoch", epoch).bind("type", contentType).bind("data", data).bind("msgId", msgId).bind("now", now)
        .execute();
  }

  public Optional<MessageView> byMsgId(Handle h, ConvoId convo, String msgId) {
    return h.createQuery(BY_MSG_ID).bind("convo", convo.value()).bind("msgId", msgId).map((rs, ctx) -> view(rs)).findFirst();
  }

  /** Messages with seq greater than {@code since}, ascending, at most {@code limit}. */
  public List<MessageView> page(Handle h, ConvoId convo, long since, int limit) {
    return h.createQuery(PAGE).bind("convo", convo.value()).bind("since", since).bind("limit", limit)
        .map((rs, ctx) -> view(rs)).list();
  }

  /** Commits for epochs {@code from..to} with seq greater than {@code since}, ascending. */
  public List<MessageView> commits(Handle h, ConvoId convo, long from, long to, long since, int limit) {
    return h.createQuery(COMMITS).bind("convo", convo.value()).bind("from", from).bind("to", to).bind("since", since)
        .bind("limit", limit).map((rs, ctx) -> view(rs)).list();
  }

  static MessageView view(java.sql.ResultSet rs) throws java.sql.SQLException {
    return new MessageView(rs.getString("id"), rs.getString("convo_id"), rs.getLong("seq"), rs.getLong("epoch"),
        rs.getString("content_type"), new Did(rs.getString("sender_did")), rs.getBytes("data"),
        Instant.ofEpochMilli(rs.getLong("created_at")));
  }
}
