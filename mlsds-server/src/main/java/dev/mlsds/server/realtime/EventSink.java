package dev.mlsds.server.realtime;

import java.io.IOException;
import java.time.Duration;

/**
 * Where one stream's events go. Writes never wait for the client: they queue the frame and return
 * ({@link AsyncSink}); an {@link IOException} means the client is gone (or stuck past the write timeout)
 * and ends the stream. Calls come from the stream's own thread, or from its conversation's feed while the
 * stream thread is parked ({@link Subscription}), never from both at once.
 */
interface EventSink {
  /**
   * One event: {@code type} (e.g. {@code infoEvent}), its id ({@code null} for live-only events) and its JSON
   * object without {@code $type} (the sink's framing names it).
   */
  void event(String type, String id, String json) throws IOException;

  /** A log entry as the event with id (and cursor) {@code id}. */
  void entry(LogEntry entry, String id) throws IOException;

  /** Tells an idle client (and proxies) that the stream is alive; fails if a write is stuck. */
  void keepalive() throws IOException;

  /** The stream is ending for a reason the client must know (WebSocket: an error frame; SSE has none). */
  default void error(String error, String message) throws IOException {}

  /** Frames queued behind the write in flight. */
  int pendingFrames();

  /** Bytes queued behind the write in flight. */
  long pendingBytes();

  /** Blocks until at most {@code bytes} are pending (the client's pace); fails if the client is gone or stuck. */
  void awaitBelow(long bytes) throws IOException;

  /** Waits at most {@code max} for everything queued to be written (the stream is ending). */
  void drain(Duration max);

  /** Runs {@code r} once when a write fails (the client went away). */
  void onFailure(Runnable r);
}
