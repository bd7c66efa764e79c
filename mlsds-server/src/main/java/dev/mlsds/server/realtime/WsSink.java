package dev.mlsds.server.realtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * WebSocket framing, as the AT Protocol frames lexicon subscriptions: by default one binary frame per event
 * (DAG-CBOR header {@code {op: 1, t: "#messageEvent"}}, then the DAG-CBOR event object) and an error frame
 * ({@code {op: -1}}, {@code {error, message}}) before the server ends a stream for a reason the client must
 * know; with {@code encoding=json}, one JSON text frame per event with its {@code $type} instead. Pings
 * when idle. Frames go out with Jetty's asynchronous sends, one at a time; what waits is queued in the
 * {@link AsyncSink}, whose bound — not Jetty's queue — absorbs a slow client.
 */
final class WsSink extends AsyncSink {
  /** The ping frame, queued like any other so that it never overtakes an event. */
  private static final Object PING = new Object();
  private final Session session;
  private final Framing framing;

  WsSink(Session session, Duration writeTimeout, Framing framing) {
    super(writeTimeout);
    if (framing == Framing.SSE) {
      throw new IllegalArgumentException("not a WebSocket framing");
    }
    this.session = session;
    this.framing = framing;
  }

  @Override
  public void event(String type, String id, String json) throws IOException {
    offer(framing.encode(type, id, json));
  }

  @Override
  public void entry(LogEntry entry, String id) throws IOException {
    offer(entry.frame(framing, id));
  }

  @Override
  public void error(String error, String message) throws IOException {
    if (framing == Framing.WS_CBOR) {
      offer(DagCbor.error(error, message));
    }
  }

  @Override
  public void keepalive() throws IOException {
    offer(PING);
  }

  @Override
  protected int size(Object frame) {
    if (frame instanceof byte[] b) {
      return b.length;
    }
    return frame instanceof String s ? s.length() : 0;
  }

  @Override
  protected boolean batches() {
    return false;
  }

  @Override
  protected void write(List<Object> frames, Done done) {
    Object frame = frames.get(0);
    Callback cb = Callback.from(done::succeeded, done::failed);
    if (frame == PING) {
      session.sendPing(ByteBuffer.allocate(0), cb);
    } else if (frame instanceof byte[] binary) {
      session.sendBinary(ByteBuffer.wrap(binary), cb);
    } else {
      session.sendText((String) frame, cb);
    }
  }
}
