package dev.mlsds.server.auth;

import com.sun.net.httpserver.HttpServer;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A PLC directory and a did:web host in one, on loopback: serves whatever {@link #respond} put at a path
 * (404 elsewhere) and counts requests, so tests publish, rotate and break DID documents at will.
 */
final class FakeDirectory implements AutoCloseable {
  private record Reply(int status, byte[] body, long delayMillis) {}

  private static final SecureRandom RANDOM = new SecureRandom();
  private final HttpServer server;
  private final Map<String, Reply> replies = new ConcurrentHashMap<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private volatile long notFoundDelayMillis;

  FakeDirectory() {
    try {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/", exchange -> {
      requests.incrementAndGet();
      maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      Reply r = replies.getOrDefault(exchange.getRequestURI().getPath(),
          new Reply(404, new byte[0], notFoundDelayMillis));
      try {
        Thread.sleep(r.delayMillis());
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(r.status(), r.body().length == 0 ? -1 : r.body().length);
        exchange.getResponseBody().write(r.body());
      } catch (InterruptedException | IOException e) {
        // the client gave up (timeout tests): nothing to answer
      } finally {
        inFlight.decrementAndGet();
        exchange.close();
      }
    });
    server.start();
  }

  /** The base URL, to use as MLSDS_PLC_URL. */
  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** A did:web identifier served by this host ({@code localhost} must be an allowed insecure host). */
  Did webDid(String... pathSegments) {
    StringBuilder sb = new StringBuilder("did:web:localhost%3A" + server.getAddress().getPort());
    for (String s : pathSegments) {
      sb.append(':').append(s);
    }
    return new Did(sb.toString());
  }

  /** Where this host serves {@code did}'s document: PLC path, or the did:web well-known / path form. */
  String pathOf(Did did) {
    if (did.method().equals("plc")) {
      return "/" + did.value();
    }
    String[] parts = did.value().split(":");
    return parts.length == 3 ? "/.well-known/did.json"
        : "/" + String.join("/", List.of(parts).subList(3, parts.length)) + "/did.json";
  }

  /** Publishes a standard atproto DID document naming {@code key} as {@code #atproto}. */
  void publish(Did did, AtprotoKey key) {
    respond(pathOf(did), 200, Json.write(document(did, key)));
  }

  void respond(String path, int status, String body) {
    replies.put(path, new Reply(status, body.getBytes(StandardCharsets.UTF_8), 0));
  }

  void respondSlowly(String path, long delayMillis) {
    replies.put(path, new Reply(200, new byte[0], delayMillis));
  }

  int requests() {
    return requests.get();
  }

  /** The most requests it was serving at once. */
  int maxInFlight() {
    return maxInFlight.get();
  }

  /** Makes every 404 answer take {@code millis}. */
  void slowNotFound(long millis) {
    notFoundDelayMillis = millis;
  }

  static Map<String, Object> document(Did did, AtprotoKey key) {
    return Map.of(
        "@context", List.of("https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"),
        "id", did.value(),
        "alsoKnownAs", List.of("at://someone.example"),
        "verificationMethod", List.of(Map.of("id", did.value() + "#atproto", "type", "Multikey",
            "controller", did.value(), "publicKeyMultibase", key.multikey())),
        "service", List.of(Map.of("id", "#atproto_pds", "type", "AtprotoPersonalDataServer",
            "serviceEndpoint", "https://pds.example")));
  }

  /** A fresh, syntactically valid did:plc. */
  static Did randomPlcDid() {
    String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    StringBuilder sb = new StringBuilder("did:plc:");
    for (int i = 0; i < 24; i++) {
      sb.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
    }
    return new Did(sb.toString());
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
