package dev.mlsds.server.realtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * WebSocket framing: one text frame per event, the event object with {@code $type} naming it first
 * ({@code {"$type": "blue.catbird.mls.defs#messageEvent", "cursor": …, "message": …}}, as the
 * subscribeConvoEvents lexicon says); pings when idle. Sends block until Jetty has written the frame, so
 * the stream's bounded outbox — not Jetty's queue — is what absorbs a slow client.
 */
final class WsSink implements EventSink {
  private static final String DEFS = "blue.catbird.mls.defs#";
  private final Session session;
  private final Duration writeTimeout;

  WsSink(Session session, Duration writeTimeout) {
    this.session = session;
    this.writeTimeout = writeTimeout;
  }

  @Override
  public void event(String type, String id, String json) throws IOException {
    send(frame(type, json));
  }

  @Override
  public void entry(LogEntry entry, String id) throws IOException {
    send(entry.wsFrame(id));
  }

  /** One event as a text frame. */
  static String frame(String type, String json) {
    return Outbound.withField("$type", DEFS + type, json);
  }

  private void send(String frame) throws IOException {
    Callback.Completable sent = new Callback.Completable();
    session.sendText(frame, sent);
    await(sent);
  }

  @Override
  public void keepalive() throws IOException {
    Callback.Completable sent = new Callback.Completable();
    session.sendPing(ByteBuffer.allocate(0), sent);
    await(sent);
  }

  private void await(Callback.Completable sent) throws IOException {
    try {
      sent.get(writeTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException("websocket send failed", e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("websocket send timed out");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
  }
}
