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
 * WebSocket framing, as the AT Protocol frames lexicon subscriptions: by default one binary frame per event
 * (DAG-CBOR header {@code {op: 1, t: "#messageEvent"}}, then the DAG-CBOR event object) and an error frame
 * ({@code {op: -1}}, {@code {error, message}}) before the server ends a stream for a reason the client must
 * know; with {@code encoding=json}, one JSON text frame per event with its {@code $type} instead. Pings
 * when idle. Sends block until Jetty has written the frame, so the stream's bounded outbox — not Jetty's
 * queue — is what absorbs a slow client.
 */
final class WsSink implements EventSink {
  private final Session session;
  private final Duration writeTimeout;
  private final Framing framing;

  WsSink(Session session, Duration writeTimeout, Framing framing) {
    if (framing == Framing.SSE) {
      throw new IllegalArgumentException("not a WebSocket framing");
    }
    this.session = session;
    this.writeTimeout = writeTimeout;
    this.framing = framing;
  }

  @Override
  public void event(String type, String id, String json) throws IOException {
    send(framing.encode(type, id, json));
  }

  @Override
  public void entry(LogEntry entry, String id) throws IOException {
    send(entry.frame(framing, id));
  }

  @Override
  public void error(String error, String message) throws IOException {
    if (framing == Framing.WS_CBOR) {
      send(DagCbor.error(error, message));
    }
  }

  private void send(Object frame) throws IOException {
    Callback.Completable sent = new Callback.Completable();
    if (frame instanceof byte[] binary) {
      session.sendBinary(ByteBuffer.wrap(binary), sent);
    } else {
      session.sendText((String) frame, sent);
    }
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
