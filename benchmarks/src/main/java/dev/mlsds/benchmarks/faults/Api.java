package dev.mlsds.benchmarks.faults;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.auth.DevIdentity;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** XRPC over loopback HTTP with a fresh service token (own jti) per request. */
final class Api {
  static final String NS = "blue.catbird.mls.";
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private final Duration timeout;

  Api(Duration timeout) {
    this.timeout = timeout;
  }

  /** A reply with an HTTP status (any status: errors are answers too). */
  record Reply(int status, String body, java.net.http.HttpHeaders headers) {
    JsonNode json() {
      try {
        return Faults.JSON.readTree(body);
      } catch (IOException e) {
        throw new IllegalStateException("not JSON (" + status + "): " + body, e);
      }
    }

    String error() {
      try {
        JsonNode e = Faults.JSON.readTree(body).get("error");
        return e == null ? "" : e.asText();
      } catch (IOException e) {
        return "";
      }
    }
  }

  Reply post(String base, DevIdentity who, String method, String json) throws IOException, InterruptedException {
    HttpRequest r = HttpRequest.newBuilder(URI.create(base + "/xrpc/" + NS + method)).timeout(timeout)
        .header("Authorization", "Bearer " + who.token(Faults.AUD, NS + method))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build();
    HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
    return new Reply(resp.statusCode(), resp.body(), resp.headers());
  }

  /** GET with query parameters as alternating name, value pairs. */
  Reply get(String base, DevIdentity who, String method, String... params) throws IOException, InterruptedException {
    StringBuilder q = new StringBuilder();
    for (int i = 0; i + 1 < params.length; i += 2) {
      q.append(q.isEmpty() ? '?' : '&').append(params[i]).append('=')
          .append(URLEncoder.encode(params[i + 1], StandardCharsets.UTF_8));
    }
    HttpRequest r = HttpRequest.newBuilder(URI.create(base + "/xrpc/" + NS + method + q)).timeout(timeout)
        .header("Authorization", "Bearer " + who.token(Faults.AUD, NS + method)).GET().build();
    HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
    return new Reply(resp.statusCode(), resp.body(), resp.headers());
  }

  /** A plain GET (health endpoints). */
  Reply plain(String url) throws IOException, InterruptedException {
    HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    return new Reply(resp.statusCode(), resp.body(), resp.headers());
  }
}
