package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;

/**
 * One entry of a conversation's log as the streams carry it: a message ({@code messageEvent}) or a
 * conversation event. {@code body} is the event object's JSON without its {@code cursor} (which differs
 * per stream); it is built once per node and shared by every stream the entry fans out to.
 *
 * @param recipient the only user whose streams may carry it (a {@code welcomeEvent}), or null for every
 *     member
 * @param createdAt when it was written (epoch ms), for the fan-out latency metric
 */
record LogEntry(String convoId, LogPosition position, String type, String recipient, long createdAt, String body)
    implements Outbound {

  /** Whether a member added at {@code joinedSeq} (and still a member) may see this entry. */
  boolean visibleTo(Did did, long joinedSeq) {
    return position.isAfter(LogPosition.afterJoin(joinedSeq)) && (recipient == null || recipient.equals(did.value()));
  }

  /** The event object with {@code cursor} as its first field. */
  String data(String cursor) {
    return Outbound.withField("cursor", cursor, body);
  }

  @Override
  public int weight() {
    return body.length();
  }
}
