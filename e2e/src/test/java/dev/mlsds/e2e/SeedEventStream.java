package dev.mlsds.e2e;

import dev.mlsds.e2e.SeedTypes.StreamEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * {@code streamConvoEvents} read the way the seed client reads it: only {@code data:} lines count ({@code event:} and
 * {@code id:} are ignored, comments are keep-alives), the lines of one event are joined, and each data object goes
 * through {@link StreamEvent#decode}: no {@code $type}, or a seed type that does not decode, is a failure the test
 * sees ({@link #failures}); a type outside the seed's union is kept as {@link SeedTypes.UnknownEvent}, which the real
 * client skips. Events are queued in arrival order; every wait is bounded.
 */
final class SeedEventStream implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final Duration WAIT = Duration.ofSeconds(30);

  private final String name;
  private final InputStream body;
  private final BlockingQueue<StreamEvent> events = new LinkedBlockingQueue<>();
  /** Every event delivered so far, in order (also those already taken from the queue). */
  final List<StreamEvent> seen = new CopyOnWriteArrayList<>();
  /** Data objects the seed client could not have used, with the reason. */
  final List<String> failures = new CopyOnWriteArrayList<>();
  private volatile boolean ended;

  private SeedEventStream(String name, InputStream body) {
    this.name = name;
    this.body = body;
    Thread.ofVirtual().name("sse-" + name).start(this::read);
  }

  /** Opens the stream; returns once the server has sent its headers (it does so after the stream has joined). */
  static SeedEventStream open(User user, String convoId) {
    String query = "?convoId=" + URLEncoder.encode(convoId, StandardCharsets.UTF_8);
    try {
      HttpResponse<InputStream> r = HTTP.send(user.authorized("streamConvoEvents", query)
          .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofInputStream());
      if (r.statusCode() != 200) {
        String text = new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
        throw new SeedClient.SeedHttpException(user.name + " streamConvoEvents", r.statusCode(), User.JSON.readTree(text));
      }
      return new SeedEventStream(user.name, r.body());
    } catch (IOException e) {
      throw new AssertionError(user.name + ": cannot open streamConvoEvents: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private void read() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
      List<String> data = new ArrayList<>();
      for (String line; (line = r.readLine()) != null; ) {
        if (line.isEmpty()) {
          if (!data.isEmpty()) {
            dispatch(String.join("\n", data));
            data.clear();
          }
        } else if (line.startsWith("data:")) {
          data.add(line.substring(line.startsWith("data: ") ? 6 : 5));
        }
        // "event:", "id:", "retry:" and ":comment" lines: the seed client reads none of them.
      }
    } catch (IOException e) {
      // closed by us or by the server: the stream has ended
    } finally {
      ended = true;
    }
  }

  private void dispatch(String json) {
    StreamEvent e;
    try {
      e = StreamEvent.decode(User.JSON.readTree(json));
    } catch (IOException | SeedDecoding.SeedDecodeException ex) {
      failures.add(ex.getMessage() + " in data: " + json);
      return;
    }
    seen.add(e);
    events.add(e);
  }

  /** The next event matching {@code wanted}, skipping (and dropping) others; fails after {@link #WAIT}. */
  <T extends StreamEvent> T next(Class<T> type, Predicate<T> wanted, String what) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      StreamEvent e;
      try {
        e = events.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new AssertionError(ex);
      }
      if (e == null) {
        throw new AssertionError(name + ": no " + what + " on streamConvoEvents within " + WAIT.toSeconds() + " s (ended: "
            + ended + "; seen " + seen + "; failures " + failures + ")");
      }
      if (type.isInstance(e) && wanted.test(type.cast(e))) {
        return type.cast(e);
      }
    }
  }

  boolean ended() {
    return ended;
  }

  @Override
  public void close() {
    try {
      body.close();
    } catch (IOException ignored) {
      // already closed
    }
  }
}
