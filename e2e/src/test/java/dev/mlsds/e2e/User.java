package dev.mlsds.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * A did:key user calling the server's XRPC methods over HTTP, exactly as a client would: every call
 * carries a freshly minted service token ({@code aud} = the service DID, {@code lxm} = the method's NSID,
 * a new {@code jti}) signed with the user's own P-256 key.
 */
final class User {
  static final String NS = "blue.catbird.mls.";
  static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

  final String name;
  private final DevIdentity identity;
  private final String base;
  private final String audience;

  /** A response: status and the parsed JSON body. */
  record Response(int status, JsonNode body, String method) {
    /** The XRPC error name, or null on success. */
    String error() {
      return status >= 400 ? body.path("error").asText(null) : null;
    }

    /** The body, after asserting a 200 (the failure message carries the whole response). */
    JsonNode ok() {
      if (status != 200) {
        throw new AssertionError(method + " -> " + status + " " + body);
      }
      return body;
    }

    @Override
    public String toString() {
      return method + " -> " + status + " " + body;
    }
  }

  User(String name, int port, String audience) {
    this.name = name;
    this.identity = DevIdentity.generate(KeyType.P256);
    this.base = "http://127.0.0.1:" + port + "/xrpc/" + NS;
    this.audience = audience;
  }

  String did() {
    return identity.did().value();
  }

  Response post(String method, Map<String, ?> body) {
    try {
      return send(method, HttpRequest.newBuilder(URI.create(base + method))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** A query with parameters as alternating names and values. */
  Response get(String method, String... params) {
    StringBuilder q = new StringBuilder();
    for (int i = 0; i + 1 < params.length; i += 2) {
      q.append(q.isEmpty() ? '?' : '&').append(params[i]).append('=')
          .append(URLEncoder.encode(params[i + 1], StandardCharsets.UTF_8));
    }
    return send(method, HttpRequest.newBuilder(URI.create(base + method + q)).GET());
  }

  /**
   * A request to {@code method} with {@code query} (empty or starting with {@code ?}) carrying a fresh service token,
   * for callers that read the response themselves (event streams).
   */
  HttpRequest.Builder authorized(String method, String query) {
    return HttpRequest.newBuilder(URI.create(base + method + query))
        .header("Authorization", "Bearer " + identity.token(audience, NS + method));
  }

  private Response send(String method, HttpRequest.Builder request) {
    HttpRequest r = request.timeout(REQUEST_TIMEOUT)
        .header("Authorization", "Bearer " + identity.token(audience, NS + method)).build();
    try {
      HttpResponse<String> resp = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
      JsonNode body = resp.body().isEmpty() ? JSON.nullNode() : JSON.readTree(resp.body());
      return new Response(resp.statusCode(), body, name + " " + method);
    } catch (IOException e) {
      throw new AssertionError(name + " " + method + ": request failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Override
  public String toString() {
    return name + " (" + did() + ")";
  }
}
