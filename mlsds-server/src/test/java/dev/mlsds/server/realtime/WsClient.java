package dev.mlsds.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mlsds.server.lexicon.LexiconValidator;
import dev.mlsds.server.xrpc.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A test client of subscribeConvoEvents: collects the frames — binary XRPC event-stream frames (read with
 * the independent {@link StrictDagCbor}, which refuses anything DAG-CBOR forbids), or JSON text frames with
 * {@code encoding=json} — checks each event against the lexicon, and turns them into the same
 * {@link StreamEvent}s the SSE client sees (type, cursor → id). {@link #open} returns once the stream has
 * said "ready" (its first event), so the stream misses nothing the test does afterwards.
 */
final class WsClient implements AutoCloseable {
  static final String NSID = "blue.catbird.mls.subscribeConvoEvents";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final Object END = new Object();
  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private WebSocket ws;
  private volatile String error;
  /** The cursor of the stream's start (its "ready" event). */
  String start;

  /** The outcome of an upgrade: a client, or the HTTP status that refused it. */
  record Opened(WsClient client, int status) {}

  /** An error frame ({@code op: -1}). */
  private record ErrorFrame(String error, String message) {}

  static Opened open(String url) {
    WsClient c = new WsClient();
    try {
      c.ws = HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
          .buildAsync(URI.create(url), c.listener()).get(10, TimeUnit.SECONDS);
      StreamEvent ready = c.next(Duration.ofSeconds(10));
      if (!ready.type().equals("infoEvent") || !ready.data().get("info").asText().equals("ready")) {
        throw new AssertionError("the first frame is not infoEvent ready: " + ready);
      }
      c.start = ready.id();
      return new Opened(c, 101);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof WebSocketHandshakeException h) {
        return new Opened(null, h.getResponse().statusCode());
      }
      throw new AssertionError(e);
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError(e);
    }
  }

  private WebSocket.Listener listener() {
    StringBuilder partial = new StringBuilder();
    ByteArrayOutputStream binary = new ByteArrayOutputStream();
    return new WebSocket.Listener() {
      @Override
      public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
          queue.add(frame(partial.toString()));
          partial.setLength(0);
        }
        w.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
        byte[] chunk = new byte[data.remaining()];
        data.get(chunk);
        binary.writeBytes(chunk);
        if (last) {
          queue.add(frame(binary.toByteArray()));
          binary.reset();
        }
        w.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket w, int status, String reason) {
        queue.add(END);
        return null;
      }

      @Override
      public void onError(WebSocket w, Throwable error) {
        queue.add(END);
      }
    };
  }

  /** A binary frame: DAG-CBOR header {op, t} and body; the body must not name its type itself. */
  private static Object frame(byte[] data) {
    try {
      StrictDagCbor.Frame f = StrictDagCbor.frame(data);
      JsonNode op = f.header().get("op");
      if (op != null && op.isIntegralNumber() && op.asInt() == -1 && f.header().size() == 1) {
        if (f.body().size() != 2 || !f.body().path("error").isTextual() || !f.body().path("message").isTextual()) {
          return new AssertionError("bad error frame body: " + f.body());
        }
        return new ErrorFrame(f.body().get("error").asText(), f.body().get("message").asText());
      }
      JsonNode t = f.header().get("t");
      if (op == null || !op.isIntegralNumber() || op.asInt() != 1 || t == null || !t.isTextual()
          || !t.asText().startsWith("#") || f.header().size() != 2) {
        return new AssertionError("bad frame header: " + f.header());
      }
      if (f.body().has("$type")) {
        return new AssertionError("a DAG-CBOR body carries no $type (the header names it): " + f.body());
      }
      ObjectNode typed = Json.MAPPER.createObjectNode().put("$type", NSID + t.asText());
      typed.setAll((ObjectNode) f.body());
      return frame(typed);
    } catch (RuntimeException e) {
      return new AssertionError("frame is not strict DAG-CBOR", e);
    }
  }

  private static Object frame(String text) {
    try {
      return frame(Json.MAPPER.readTree(text));
    } catch (IOException | RuntimeException e) {
      return new AssertionError("bad frame: " + text, e);
    }
  }

  private static Object frame(JsonNode node) {
    List<LexiconValidator.Violation> v = LexiconValidator.standard().frame(NSID, node);
    if (!v.isEmpty()) {
      return new AssertionError("frame breaks the lexicon: " + v + " " + node);
    }
    String type = node.get("$type").asText();
    if (!type.startsWith(NSID + "#")) {
      return new AssertionError("$type is not one of " + NSID + "'s events: " + type);
    }
    ObjectNode data = ((ObjectNode) node).deepCopy();
    data.remove("$type");
    return new StreamEvent(type.substring(type.indexOf('#') + 1), data.path("cursor").asText(null), data);
  }

  /** The error frame's error name, once the stream has ended with one (null otherwise). */
  String error() {
    return error;
  }

  StreamEvent next(Duration timeout) {
    StreamEvent e = poll(timeout);
    if (e == null) {
      throw new AssertionError("no frame within " + timeout + " (or the socket closed)");
    }
    return e;
  }

  StreamEvent poll(Duration timeout) {
    try {
      Object o = queue.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (o instanceof ErrorFrame e) {
        error = e.error();
        o = END;
      }
      if (o == END) {
        queue.add(END);
        return null;
      }
      if (o instanceof AssertionError e) {
        throw e;
      }
      return (StreamEvent) o;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() {
    if (ws != null) {
      ws.abort();
    }
  }
}
