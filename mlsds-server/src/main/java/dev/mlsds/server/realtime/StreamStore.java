package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.delivery.MessageStore.MessageView;
import dev.mlsds.server.xrpc.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * The reads that streams make: a conversation's log after a position (messages and conversation events
 * merged in position order), the heads of logs, and memberships.
 *
 * <p>Contract: {@link #page} is one statement, so it reads one snapshot on both backends; since positions
 * are allocated in commit order, that snapshot holds a prefix of the log — a page never skips an entry
 * that a later page would then return behind it. Membership is read by the caller <em>after</em> the
 * page: if the member is still active then, every entry of the page past their join point committed while
 * they were a member.
 */
final class StreamStore {
  /** Entries per page; the bytes per page are bounded by {@link RealtimeSettings#backfillPageBytes}. */
  static final int PAGE = 50;

  // The page is cut by entry count and by bytes in one statement (one snapshot): the window sums the
  // entries' sizes in log order, and only the prefix within the budget (at least one entry) leaves the
  // database. LENGTH of a stored blob reads its header, not its bytes. "fetched" is the count before the
  // byte cut, so the caller knows whether more may follow.
  private static final String PAGE_SQL = """
      SELECT seq, idx, id, sender_did, epoch, content_type, data, created_at, type, payload, recipient_did, fetched
      FROM (
        SELECT page.*, SUM(size) OVER (ORDER BY seq, idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
               COUNT(*) OVER () AS fetched
        FROM (
          SELECT seq, idx, id, sender_did, epoch, content_type, data, created_at, type, payload, recipient_did, size FROM (
            SELECT seq, 0 AS idx, id, sender_did, epoch, content_type, data, created_at,
                   NULL AS type, NULL AS payload, NULL AS recipient_did, LENGTH(data) AS size
            FROM messages WHERE convo_id = :convo AND seq > :seq
            UNION ALL
            SELECT seq, idx, NULL, NULL, NULL, NULL, NULL, created_at, type, payload, recipient_did, LENGTH(payload)
            FROM convo_events WHERE convo_id = :convo AND (seq > :seq OR (seq = :seq AND idx > :idx))
          ) log ORDER BY seq, idx LIMIT :limit
        ) page
      ) sized WHERE running <= :budget OR running = size ORDER BY seq, idx""";
  private static final String HEADS = """
      SELECT c.id, c.latest_seq,
        (SELECT MAX(e.idx) FROM convo_events e WHERE e.convo_id = c.id AND e.seq = c.latest_seq) AS idx
      FROM convos c WHERE c.id IN (<convos>)""";
  private static final String MEMBERSHIPS = """
      SELECT m.convo_id, m.joined_seq FROM members m JOIN convos c ON c.id = m.convo_id
      WHERE m.did = :did AND m.active = TRUE AND c.closed = FALSE""";
  private static final String MEMBERSHIP = """
      SELECT m.joined_seq FROM members m JOIN convos c ON c.id = m.convo_id
      WHERE m.convo_id = :convo AND m.did = :did AND m.active = TRUE AND c.closed = FALSE""";
  private static final String ACTIVE_MEMBERS = """
      SELECT did, joined_seq FROM members WHERE convo_id = :convo AND active = TRUE""";
  private static final String RECENT_MEMBERSHIPS = """
      SELECT convo_id, payload FROM convo_events WHERE type = 'membershipEvent' AND created_at >= :since""";
  private static final String RECENT_CONVOS = "SELECT id, creator_did FROM convos WHERE created_at >= :since";
  private static final int IN_CHUNK = 500;

  /** A page of a log: its entries, and whether more may follow them (the page was cut by count or bytes). */
  record Page(List<LogEntry> entries, boolean more) {}

  /**
   * Up to {@code limit} entries of {@code convo}'s log after {@code after}, in position order, holding at
   * most {@code budget} bytes of message data and payloads (but always at least one entry).
   */
  Page page(Handle h, String convo, LogPosition after, int limit, long budget) {
    long[] fetched = {0};
    List<LogEntry> entries = h.createQuery(PAGE_SQL).bind("convo", convo).bind("seq", after.seq())
        .bind("idx", after.idx()).bind("limit", limit).bind("budget", budget).map((rs, ctx) -> {
          fetched[0] = rs.getLong("fetched");
          return entry(convo, rs);
        }).list();
    return new Page(entries, fetched[0] >= limit || entries.size() < fetched[0]);
  }

  /** The last position of each conversation's log ({@link LogPosition#START} for an empty one). */
  Map<String, LogPosition> heads(Handle h, Collection<String> convos) {
    Map<String, LogPosition> out = new HashMap<>();
    List<String> all = List.copyOf(convos);
    for (int i = 0; i < all.size(); i += IN_CHUNK) {
      h.createQuery(HEADS).bindList("convos", all.subList(i, Math.min(all.size(), i + IN_CHUNK)))
          .map((rs, ctx) -> Map.entry(rs.getString("id"), new LogPosition(rs.getLong("latest_seq"), rs.getInt("idx"))))
          .forEach(e -> out.put(e.getKey(), e.getValue()));
    }
    return out;
  }

  /** The open conversations {@code did} is an active member of, with the seq that added them. */
  Map<String, Long> memberships(Handle h, Did did) {
    Map<String, Long> out = new HashMap<>();
    h.createQuery(MEMBERSHIPS).bind("did", did.value())
        .map((rs, ctx) -> Map.entry(rs.getString("convo_id"), rs.getLong("joined_seq")))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /** The seq that added {@code did} to the open conversation {@code convo}, if it is an active member. */
  Optional<Long> membership(Handle h, String convo, Did did) {
    return h.createQuery(MEMBERSHIP).bind("convo", convo).bind("did", did.value()).mapTo(Long.class).findFirst();
  }

  /** Active members of {@code convo} (DID → joined seq). */
  Map<String, Long> activeMembers(Handle h, String convo) {
    Map<String, Long> out = new HashMap<>();
    h.createQuery(ACTIVE_MEMBERS).bind("convo", convo)
        .map((rs, ctx) -> Map.entry(rs.getString("did"), rs.getLong("joined_seq")))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * (conversation, DID) pairs whose membership changed at or after {@code since} (epoch ms): every
   * {@code membershipEvent}, and every conversation's creator (made a member without one).
   */
  List<Map.Entry<String, String>> recentMembershipChanges(Handle h, long since) {
    List<Map.Entry<String, String>> out = new java.util.ArrayList<>();
    h.createQuery(RECENT_MEMBERSHIPS).bind("since", since)
        .map((rs, ctx) -> Map.entry(rs.getString("convo_id"), rs.getString("payload"))).forEach(e -> {
          try {
            String did = Json.MAPPER.readTree(e.getValue()).path("did").asText(null);
            if (did != null) {
              out.add(Map.entry(e.getKey(), did));
            }
          } catch (com.fasterxml.jackson.core.JsonProcessingException bad) {
            // a payload ConvoEventLog did not write: nobody to wake
          }
        });
    h.createQuery(RECENT_CONVOS).bind("since", since)
        .map((rs, ctx) -> Map.entry(rs.getString("id"), rs.getString("creator_did"))).forEach(out::add);
    return out;
  }

  private static LogEntry entry(String convo, ResultSet rs) throws SQLException {
    LogPosition at = new LogPosition(rs.getLong("seq"), rs.getInt("idx"));
    long createdAt = rs.getLong("created_at");
    String id = rs.getString("id");
    if (id != null) {
      MessageView view = new MessageView(id, convo, at.seq(), rs.getLong("epoch"), rs.getString("content_type"),
          new Did(rs.getString("sender_did")), rs.getBytes("data"), Instant.ofEpochMilli(createdAt));
      return new LogEntry(convo, at, "messageEvent", null, createdAt, Json.write(new MessageBody(view)));
    }
    return new LogEntry(convo, at, rs.getString("type"), rs.getString("recipient_did"), createdAt,
        rs.getString("payload"));
  }

  /** {@code messageEvent} without its cursor. */
  private record MessageBody(MessageView message) {}
}
