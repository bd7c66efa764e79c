package dev.mlsds.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.lexicon.LexiconValidator;
import dev.mlsds.server.xrpc.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test client of streamConvoEvents: reads the Server-Sent Events on its own thread into a queue,
 * checking every event against the lexicon (its data names itself with {@code $type}, and its {@code id:}
 * is its data's cursor). {@link #open} returns once the stream has said "ready" (its first event), so the
 * stream misses nothing the test does afterwards.
 */
final class SseClient implements AutoCloseable {
  static final String NSID = "blue.catbird.mls.streamConvoEvents";
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  private static final Object END = new Object();

  private final InputStream body;
  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  final AtomicInteger keepalives = new AtomicInteger();
  private volatile boolean ended;
  /** The cursor of the stream's start (its "ready" event). */
  String start;

  private SseClient(InputStream body) {
    this.body = body;
    Thread.ofVirtual().name("test-sse-reader").start(this::read);
  }

  /** Opens a stream (asserting 200); {@code query} like {@code "?convoId=ab"} or "". */
  static SseClient open(int port, String token, String query, String lastEventId) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/xrpc/" + NSID + query))
        .header("Authorization", "Bearer " + token).header("Accept", "text/event-stream").GET();
    if (lastEventId != null) {
      b.header("Last-Event-ID", lastEventId);
    }
    try {
      HttpResponse<InputStream> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      if (r.statusCode() != 200) {
        String err = new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
        throw new AssertionError("stream refused: " + r.statusCode() + " " + err);
      }
      assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
      SseClient c = new SseClient(r.body());
      StreamEvent ready = c.next(Duration.ofSeconds(10));
      assertThat(ready.type()).isEqualTo("infoEvent");
      assertThat(ready.data().get("info").asText()).isEqualTo("ready");
      c.start = ready.id();
      return c;
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private void read() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
      String type = null;
      String id = null;
      StringBuilder data = null;
      String line;
      while ((line = in.readLine()) != null) { // until the server ends the stream or close()
        if (line.isEmpty()) {
          if (type != null || data != null) {
            queue.add(event(type, id, data == null ? "" : data.toString()));
          }
          type = null;
          id = null;
          data = null;
        } else if (line.startsWith(":")) {
          if (line.equals(":keepalive")) {
            keepalives.incrementAndGet();
          }
        } else if (line.startsWith("event: ")) {
          type = line.substring(7);
        } else if (line.startsWith("id: ")) {
          id = line.substring(4);
        } else if (line.startsWith("data: ")) {
          data = data == null ? new StringBuilder(line.substring(6)) : data.append('\n').append(line.substring(6));
        } else {
          queue.add(new AssertionError("unexpected SSE line: " + line));
        }
      }
    } catch (IOException e) {
      // closed
    } finally {
      ended = true;
      queue.add(END);
    }
  }

  private static Object event(String type, String id, String data) {
    try {
      JsonNode node = Json.MAPPER.readTree(data);
      List<LexiconValidator.Violation> v = LexiconValidator.standard().event(NSID, type, node);
      if (!v.isEmpty()) {
        return new AssertionError("event breaks the lexicon: " + v + " " + data);
      }
      if (node.has("cursor") && !node.get("cursor").asText().equals(id)) {
        return new AssertionError("id " + id + " is not the data's cursor: " + data);
      }
      if (!node.get("$type").asText().equals(NSID + "#" + type)) {
        return new AssertionError("$type does not name the event " + type + ": " + data);
      }
      ((com.fasterxml.jackson.databind.node.ObjectNode) node).remove("$type");
      return new StreamEvent(type, id, node);
    } catch (IOException e) {
      return new AssertionError("data is not JSON: " + data);
    }
  }

  /** The next event; fails if none comes within {@code timeout} or the stream ends. */
  StreamEvent next(Duration timeout) {
    StreamEvent e = poll(timeout);
    if (e == null) {
      throw new AssertionError(ended ? "stream ended" : "no event within " + timeout);
    }
    return e;
  }

  /** The next event, or null if none comes within {@code timeout} or the stream ended. */
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

  /** Events until none comes for {@code quiet} (or the stream ends). */
  List<StreamEvent> drain(Duration quiet) {
    List<StreamEvent> out = new ArrayList<>();
    for (StreamEvent e = poll(quiet); e != null; e = poll(quiet)) { // ends when the stream is quiet
      out.add(e);
    }
    return out;
  }

  /** Waits up to {@code timeout} for the server to end the stream. */
  boolean awaitEnd(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!ended && System.nanoTime() < deadline) { // bounded by the deadline
      sleep(20);
    }
    return ended;
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    try {
      body.close();
    } catch (IOException e) {
      // already closed
    }
  }
}
