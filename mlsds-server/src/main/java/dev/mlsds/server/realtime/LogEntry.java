package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One entry of a conversation's log as the streams carry it: a message ({@code messageEvent}) or a
 * conversation event. {@code body} is the event object's JSON without its {@code cursor} (which differs
 * per stream); it is built once per node and shared by every stream the entry fans out to.
 *
 * <p>{@code recipient} is the only user whose streams may carry it (a {@code welcomeEvent}), or null for
 * every member; {@code createdAt} (epoch ms) is when it was written, for the fan-out latency metric.
 */
final class LogEntry implements Outbound {
  private final String convoId;
  private final LogPosition position;
  private final String positionText;
  private final String type;
  private final String recipient;
  private final long createdAt;
  private final String body;
  // The last frame built per framing, by id: every one-conversation stream writes an entry with the same
  // id (its position), so a node builds that frame once however many streams it fans out to.
  private final AtomicReferenceArray<Frame> frames = new AtomicReferenceArray<>(Framing.values().length);

  private record Frame(String id, Object encoded) {}

  LogEntry(String convoId, LogPosition position, String type, String recipient, long createdAt, String body) {
    this.convoId = convoId;
    this.position = position;
    this.positionText = position.toString();
    this.type = type;
    this.recipient = recipient;
    this.createdAt = createdAt;
    this.body = body;
  }

  String convoId() {
    return convoId;
  }

  LogPosition position() {
    return position;
  }

  /** The position as the one-conversation stream's id. */
  String positionText() {
    return positionText;
  }

  String type() {
    return type;
  }

  long createdAt() {
    return createdAt;
  }

  /** Whether a member added at {@code joinedSeq} (and still a member) may see this entry. */
  boolean visibleTo(Did did, long joinedSeq) {
    return position.isAfter(LogPosition.afterJoin(joinedSeq)) && (recipient == null || recipient.equals(did.value()));
  }

  /** The event object with {@code cursor} as its first field. */
  String data(String cursor) {
    return Outbound.withField("cursor", cursor, body);
  }

  /** This entry framed by {@code framing}, with id (and cursor) {@code id}. */
  Object frame(Framing framing, String id) {
    Frame f = frames.get(framing.ordinal());
    if (f == null || !f.id().equals(id)) {
      f = new Frame(id, framing.encode(type, id, data(id)));
      frames.set(framing.ordinal(), f);
    }
    return f.encoded();
  }

  @Override
  public int weight() {
    return body.length();
  }
}
