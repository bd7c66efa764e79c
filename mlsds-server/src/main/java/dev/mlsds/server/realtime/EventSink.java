package dev.mlsds.server.realtime;

import java.io.IOException;

/**
 * Where one stream's events go: blocking writes, called only from the stream's own thread. An
 * {@link IOException} means the client is gone and ends the stream.
 */
interface EventSink {
  /** One event: {@code type} (e.g. {@code messageEvent}), its id ({@code null} for live-only events) and its JSON object. */
  void event(String type, String id, String json) throws IOException;

  /** A log entry as the event with id (and cursor) {@code id}. */
  void entry(LogEntry entry, String id) throws IOException;

  /** Tells an idle client (and proxies) that the stream is alive. */
  void keepalive() throws IOException;
}
