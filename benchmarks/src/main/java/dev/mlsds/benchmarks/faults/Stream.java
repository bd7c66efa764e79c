package dev.mlsds.benchmarks.faults;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.auth.DevIdentity;
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
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A streamConvoEvents (SSE) reader of one conversation that behaves as a client should: when the stream
 * ends or cannot be opened it reconnects with {@code Last-Event-ID} = the last cursor it saw. It records the
 * seq of every messageEvent, so the suite can check that each message arrived exactly once.
 */
final class Stream implements AutoCloseable {
  static final String NSID = "blue.catbird.mls.streamConvoEvents";
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private final String base;
  private final DevIdentity who;
  private final String convoId;
  final List<Long> seqs = new CopyOnWriteArrayList<>();
  final AtomicLong reconnects = new AtomicLong();
  final AtomicLong refusals = new AtomicLong();
  final AtomicLong serverErrors = new AtomicLong();
  private volatile String lastId;
  private volatile boolean closed;
  private volatile boolean ready;
  private volatile InputStream body;
  private final Thread thread;

  Stream(String base, DevIdentity who, String convoId) {
    this.base = base;
    this.who = who;
    this.convoId = convoId;
    this.thread = Thread.ofPlatform().daemon().name("sse-" + convoId.substring(0, 6)).start(this::loop);
  }

  /** Waits for the first "ready". */
  void awaitReady(Duration max) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (!ready && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    if (!ready) {
      throw new IllegalStateException("stream not ready after " + max);
    }
  }

  private void loop() {
    boolean first = true;
    while (!closed) {
      if (!first) {
        reconnects.incrementAndGet();
      }
      first = false;
      try {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + "/xrpc/" + NSID + "?convoId=" + convoId))
            .header("Authorization", "Bearer " + who.token(Faults.AUD, NSID)).GET();
        if (lastId != null) {
          r.header("Last-Event-ID", lastId);
        }
        HttpResponse<InputStream> resp = http.send(r.build(), HttpResponse.BodyHandlers.ofInputStream());
        if (resp.statusCode() != 200) {
          if (resp.statusCode() >= 500 && resp.statusCode() != 503) {
            serverErrors.incrementAndGet();
          }
          refusals.incrementAndGet();
          resp.body().close();
          Thread.sleep(200);
          continue;
        }
        body = resp.body();
        read(new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8)));
      } catch (IOException e) {
        sleepQuietly(200);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void read(BufferedReader in) throws IOException {
    String id = null;
    StringBuilder data = new StringBuilder();
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isEmpty()) {
        if (!data.isEmpty()) {
          event(id, data.toString());
        }
        id = null;
        data.setLength(0);
      } else if (line.startsWith("id:")) {
        id = line.substring(3).strip();
      } else if (line.startsWith("data:")) {
        data.append(line.substring(5).strip());
      }
    }
  }

  private void event(String id, String data) throws IOException {
    JsonNode j = Faults.JSON.readTree(data);
    String type = j.path("$type").asText();
    if (type.endsWith("#infoEvent") && j.path("info").asText().equals("ready")) {
      ready = true;
    }
    if (type.endsWith("#messageEvent")) {
      seqs.add(j.get("message").get("seq").asLong());
    }
    if (id != null) {
      lastId = id;
    }
  }

  @Override
  public void close() {
    closed = true;
    InputStream b = body;
    if (b != null) {
      try {
        b.close();
      } catch (IOException e) {
        // closing
      }
    }
    thread.interrupt();
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
