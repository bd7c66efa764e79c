package dev.mlsds.server.realtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The resume cursors of the event streams (docs/realtime.md, "Cursors").
 *
 * <p><b>One conversation</b>: the {@link LogPosition} text, {@code "12"} or {@code "12.1"}.
 *
 * <p><b>All of a user's conversations</b>: {@code <base>} or {@code <base>~<i>:<pos>,<i>:<pos>,…}. The base
 * (16 base64url characters) names an immutable row of {@code stream_cursors}: one user's position in each
 * of their conversations, sorted by conversation id; {@code <i>:<pos>} moves the base's i-th conversation
 * forward to {@code pos}. A stream writes a new base only when an event's conversation is not in its base
 * or the delta would exceed {@link #MAX_DELTA} entries, so the cursor stays short and most events cost no
 * write. There is no global counter: every position is a conversation's own, allocated under that
 * conversation's lock (docs/api.md §7).
 *
 * <p>A conversation missing from the cursor (joined since) is replayed from the user's join point; a
 * cursor is only ever read back for the user who got it; bases older than the retention are deleted and
 * their cursors refused with 400 {@code InvalidRequest}.
 */
final class StreamCursors {
  /** Conversations a cursor may move past its base before the stream writes a new base. */
  static final int MAX_DELTA = 8;
  static final int MAX_LENGTH = 512;

  private static final Pattern ALL = Pattern.compile("^([A-Za-z0-9_-]{16})(?:~([0-9.:,]{3,480}))?$");
  private static final Pattern DELTA_ENTRY = Pattern.compile("^(0|[1-9][0-9]{0,5}):([0-9.]+)$");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String INSERT = """
      INSERT INTO stream_cursors (id, did, positions, created_at) VALUES (:id, :did, :positions, :now)""";
  private static final String FIND = "SELECT positions FROM stream_cursors WHERE id = :id AND did = :did";
  private static final String PURGE = "DELETE FROM stream_cursors WHERE created_at < :cutoff";

  private final Database db;
  private final Clock clock;
  private final Duration retention;

  StreamCursors(Database db, Clock clock, Duration retention) {
    this.db = db;
    this.clock = clock;
    this.retention = retention;
  }

  /** A one-conversation cursor; anything else is 400 {@code InvalidRequest}. */
  static LogPosition parseInConvo(String text) {
    try {
      return LogPosition.parse(text);
    } catch (IllegalArgumentException e) {
      throw XrpcException.invalidRequest("cursor: with convoId it is the conversation's seq, as \"12\" or \"12.1\"");
    }
  }

  /** A tracker for a stream that starts without a cursor. */
  Tracker fresh(Did did) {
    return new Tracker(did, null, List.of(), Map.of());
  }

  /**
   * Reads back an all-conversations cursor that {@code did} was given: 400 {@code InvalidRequest} if it is
   * malformed, unknown, expired or someone else's. The tracker continues it, and its
   * {@link Tracker#resumeAt()} is where the stream resumes.
   */
  Tracker resume(Did did, String text) {
    Matcher m = text.length() > MAX_LENGTH ? null : ALL.matcher(text);
    if (m == null || !m.matches()) {
      throw XrpcException.invalidRequest("cursor: not a cursor of the all-conversations stream (use an event's id)");
    }
    String id = m.group(1);
    String stored = db.withHandle(h -> h.createQuery(FIND).bind("id", id).bind("did", did.value())
        .mapTo(String.class).findFirst()).orElseThrow(() -> XrpcException.invalidRequest(
            "cursor: unknown or expired; fetch missed messages with getMessages and reconnect without a cursor"));
    List<String> convos = new ArrayList<>();
    Map<String, LogPosition> base = new HashMap<>();
    for (JsonNode pair : readTree(stored)) {
      convos.add(pair.get(0).asText());
      base.put(pair.get(0).asText(), LogPosition.parse(pair.get(1).asText()));
    }
    Map<String, LogPosition> delta = new TreeMap<>();
    if (m.group(2) != null) {
      String[] entries = m.group(2).split(",", -1);
      if (entries.length > MAX_DELTA) {
        throw XrpcException.invalidRequest("cursor: malformed");
      }
      for (String entry : entries) {
        Matcher e = DELTA_ENTRY.matcher(entry);
        int index = e.matches() ? Integer.parseInt(e.group(1)) : -1;
        if (index < 0 || index >= convos.size() || delta.containsKey(convos.get(index))) {
          throw XrpcException.invalidRequest("cursor: malformed");
        }
        delta.put(convos.get(index), parseInConvo(e.group(2)));
      }
    }
    return new Tracker(did, id, convos, merge(base, delta)).withDelta(delta);
  }

  /** Deletes bases older than the retention; returns how many. */
  int purge() {
    long cutoff = clock.millis() - retention.toMillis();
    return db.inTransaction(h -> h.createUpdate(PURGE).bind("cutoff", cutoff).execute());
  }

  private static JsonNode readTree(String json) {
    try {
      return Json.MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("corrupt stream_cursors row", e);
    }
  }

  private static Map<String, LogPosition> merge(Map<String, LogPosition> base, Map<String, LogPosition> delta) {
    Map<String, LogPosition> out = new HashMap<>(base);
    out.putAll(delta);
    return out;
  }

  /**
   * The cursor state of one all-conversations stream; used by one thread at a time (the stream's, or its
   * feed's while the stream thread is parked: see {@link Subscription}). It turns each written event into
   * that event's id, writing a new base when needed.
   */
  final class Tracker {
    private final Did did;
    private final Map<String, LogPosition> resumeAt;
    private final boolean resumed;
    private String baseId;
    private Map<String, Integer> baseIndex = new HashMap<>();
    private final TreeMap<Integer, LogPosition> delta = new TreeMap<>();

    private Tracker(Did did, String baseId, List<String> baseConvos, Map<String, LogPosition> positions) {
      this.did = did;
      this.baseId = baseId;
      this.resumeAt = Map.copyOf(positions);
      this.resumed = baseId != null;
      for (int i = 0; i < baseConvos.size(); i++) {
        baseIndex.put(baseConvos.get(i), i);
      }
    }

    private Tracker withDelta(Map<String, LogPosition> moved) {
      moved.forEach((convo, at) -> delta.put(baseIndex.get(convo), at));
      return this;
    }

    /** Whether the stream resumes from a cursor (else it starts at the heads of the logs). */
    boolean resumed() {
      return resumed;
    }

    /** The per-conversation positions the cursor it was resumed from stands for (empty when fresh). */
    Map<String, LogPosition> resumeAt() {
      return resumeAt;
    }

    /**
     * The cursor of the stream's start, given its position in every conversation it carries: the cursor
     * it resumed from, or (starting fresh) a new base of those positions.
     */
    String start(Map<String, LogPosition> carried) {
      if (baseId == null) {
        writeBase(carried);
      }
      return token();
    }

    /**
     * The id of an event at {@code at} in {@code convo}, given the stream's position in every conversation
     * it carries ({@code carried}, already moved to {@code at}). May write a new base first.
     */
    String idFor(String convo, LogPosition at, Map<String, LogPosition> carried) {
      Integer index = baseIndex.get(convo);
      if (baseId == null || index == null || (!delta.containsKey(index) && delta.size() >= MAX_DELTA)) {
        writeBase(carried);
      } else {
        delta.put(index, at);
      }
      return token();
    }

    /** Whether {@link #idFor} would answer {@code convo}'s next event without writing a new base. */
    boolean idWithoutWrite(String convo) {
      Integer index = baseIndex.get(convo);
      return baseId != null && index != null && (delta.containsKey(index) || delta.size() < MAX_DELTA);
    }

    private void writeBase(Map<String, LogPosition> carried) {
      TreeMap<String, LogPosition> sorted = new TreeMap<>(carried);
      List<List<String>> rows = new ArrayList<>();
      Map<String, Integer> index = new HashMap<>();
      sorted.forEach((convo, at) -> {
        index.put(convo, rows.size());
        rows.add(List.of(convo, at.toString()));
      });
      byte[] raw = new byte[12];
      RANDOM.nextBytes(raw);
      String id = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
      db.inTransaction(h -> h.createUpdate(INSERT).bind("id", id).bind("did", did.value())
          .bind("positions", Json.write(rows)).bind("now", clock.millis()).execute());
      baseId = id;
      baseIndex = index;
      delta.clear();
    }

    private String token() {
      if (delta.isEmpty()) {
        return baseId;
      }
      StringBuilder sb = new StringBuilder(baseId).append('~');
      delta.forEach((i, at) -> sb.append(i).append(':').append(at).append(','));
      return sb.substring(0, sb.length() - 1);
    }
  }
}
