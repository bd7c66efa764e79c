package dev.mlsds.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Dialect;
import dev.mlsds.server.xrpc.Json;
import org.jdbi.v3.core.Handle;

/**
 * Appends non-message conversation events ({@code membershipEvent}, {@code welcomeEvent},
 * {@code readdRequestedEvent}) to {@code convo_events}, positioned right after the conversation's latest
 * message: position {@code (latest_seq, idx)} with idx 1, 2, … — messages themselves are {@code (seq, 0)}.
 *
 * <p>Contract: call inside the transaction that made the change, after any message it appends. It locks
 * the conversation row (as every writer of a conversation does), so positions are allocated in commit
 * order without gaps or duplicates. The stream replays {@code messages} and {@code convo_events}
 * merged by position.
 *
 * <p>After the transaction commits, every append wakes the conversation's subscribers through the
 * {@link Notifier} (on every node), and each {@code membershipEvent} also tells it whose membership changed,
 * so that user's open streams pick the conversation up or drop it at once.
 */
public final class ConvoEventLog {
  private static final String NEXT_IDX = """
      SELECT COALESCE(MAX(idx), 0) + 1 FROM convo_events WHERE convo_id = :convo AND seq = :seq""";
  private static final String INSERT = """
      INSERT INTO convo_events (convo_id, seq, idx, type, payload, recipient_did, created_at)
      VALUES (:convo, :seq, :idx, :type, :payload, :recipient, :now)""";
  private static final String LATEST_SEQ = "SELECT latest_seq FROM convos WHERE id = :convo";

  private final Dialect dialect;
  private final Notifier notifier;

  /** A log whose membership changes wake nobody (for code without streams). */
  public ConvoEventLog(Dialect dialect) {
    this(dialect, Notifier.NONE);
  }

  public ConvoEventLog(Dialect dialect, Notifier notifier) {
    this.dialect = dialect;
    this.notifier = notifier;
  }

  /**
   * Locks these conversations' rows in the given (sorted) order, for writers that must take them before
   * other rows to keep one global lock order.
   */
  public void lockConvos(Handle h, java.util.List<String> sortedConvoIds) {
    for (String id : sortedConvoIds) {
      h.createQuery(LATEST_SEQ + dialect.forUpdate()).bind("convo", id).mapTo(Long.class).findFirst();
    }
  }

  /** A stored event's position in its conversation's log. */
  public record Position(String convoId, long seq, int idx) {}

  /**
   * Appends one event after the conversation's latest message. {@code recipient} (nullable) limits it to
   * one user's streams. Returns its position.
   */
  public Position append(Handle h, String convoId, String type, Object payload, Did recipient, long now) {
    long seq = h.createQuery(LATEST_SEQ + dialect.forUpdate()).bind("convo", convoId).mapTo(Long.class).one();
    int idx = h.createQuery(NEXT_IDX).bind("convo", convoId).bind("seq", seq).mapTo(Integer.class).one();
    JsonNode json = Json.MAPPER.valueToTree(payload);
    h.createUpdate(INSERT).bind("convo", convoId).bind("seq", seq).bind("idx", idx).bind("type", type)
        .bind("payload", Json.write(json)).bind("recipient", recipient == null ? null : recipient.value())
        .bind("now", now).execute();
    h.afterCommit(() -> notifier.convoChanged(convoId));
    if (type.equals("membershipEvent") && json.path("did").isTextual()) {
      Did member = new Did(json.path("did").textValue());
      h.afterCommit(() -> notifier.membershipChanged(convoId, member));
    }
    return new Position(convoId, seq, idx);
  }
}
