package dev.mlsds.server.realtime;

import java.io.IOException;

/**
 * Where one stream's events go: blocking writes, called only from the stream's own thread. An
 * {@link IOException} means the client is gone and ends the stream.
 */
interface EventSink {
  /**
   * One event: {@code type} (e.g. {@code infoEvent}), its id ({@code null} for live-only events) and its JSON
   * object without {@code $type} (the sink's framing names it).
   */
  void event(String type, String id, String json) throws IOException;

  /** A log entry as the event with id (and cursor) {@code id}. */
  void entry(LogEntry entry, String id) throws IOException;

  /** Tells an idle client (and proxies) that the stream is alive. */
  void keepalive() throws IOException;

  /** The stream is ending for a reason the client must know (WebSocket: an error frame; SSE has none). */
  default void error(String error, String message) throws IOException {}
}
