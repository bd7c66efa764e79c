package dev.mlsds.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mlsds.server.lexicon.LexiconValidator;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A test client of subscribeConvoEvents: collects the JSON text frames, checks each against the lexicon,
 * and turns them into the same {@link StreamEvent}s the SSE client sees ({@code $type} → type, cursor → id).
 */
final class WsClient implements AutoCloseable {
  static final String NSID = "blue.catbird.mls.subscribeConvoEvents";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final Object END = new Object();
  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private WebSocket ws;

  /** The outcome of an upgrade: a client, or the HTTP status that refused it. */
  record Opened(WsClient client, int status) {}

  static Opened open(String url) {
    WsClient c = new WsClient();
    try {
      c.ws = HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
          .buildAsync(URI.create(url), c.listener()).get(10, TimeUnit.SECONDS);
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

  private static Object frame(String text) {
    try {
      JsonNode node = Json.MAPPER.readTree(text);
      List<LexiconValidator.Violation> v = LexiconValidator.standard().frame(NSID, node);
      if (!v.isEmpty()) {
        return new AssertionError("frame breaks the lexicon: " + v + " " + text);
      }
      String type = node.get("$type").asText();
      ObjectNode data = ((ObjectNode) node).deepCopy();
      data.remove("$type");
      return new StreamEvent(type.substring(type.indexOf('#') + 1), data.path("cursor").asText(null), data);
    } catch (IOException | RuntimeException e) {
      return new AssertionError("bad frame: " + text, e);
    }
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
