package dev.mlsds.server.realtime;

import dev.mlsds.server.xrpc.Json;
import java.util.regex.Pattern;

/** What a node queues for one stream: a log entry, or a live-only user event. */
sealed interface Outbound permits LogEntry, UserEvent {
  /** Roughly the bytes it pins in memory while queued (its shared body). */
  int weight();

  /** Cursors, event types and {@code $type} values: nothing in them needs JSON escaping. */
  Pattern PLAIN = Pattern.compile("[A-Za-z0-9_.~:,#$-]*");

  /** {@code object} (a JSON object) with {@code "name": value} inserted as its first field. */
  static String withField(String name, String value, String object) {
    String field = PLAIN.matcher(value).matches() ? "\"" + name + "\":\"" + value + "\""
        : Json.write(name) + ":" + Json.write(value);
    return object.length() <= 2 ? "{" + field + "}" : "{" + field + "," + object.substring(1);
  }
}
