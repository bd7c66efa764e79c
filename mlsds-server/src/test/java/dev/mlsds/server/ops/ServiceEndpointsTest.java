package dev.mlsds.server.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The unauthenticated service endpoints of docs/api.md §8 on a full dev node over SQLite. */
class ServiceEndpointsTest {
  static Server server;
  static Http http;

  @BeforeAll
  static void start() {
    server = TestServers.start(TestDatabases.sqlite());
    http = new Http(server.port());
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @Test
  void healthHasTheSeedDocumentShape() {
    var r = http.get("/health", null);
    assertThat(r.status()).isEqualTo(200);
    var j = r.json();
    List<String> fields = new ArrayList<>();
    j.fieldNames().forEachRemaining(fields::add);
    assertThat(fields).containsExactly("status", "timestamp", "version", "checks");
    assertThat(j.get("status").asText()).isEqualTo("healthy");
    assertThat(j.get("timestamp").isIntegralNumber()).isTrue();
    assertThat(j.get("timestamp").asLong()).isBetween(System.currentTimeMillis() / 1000 - 60, System.currentTimeMillis() / 1000 + 60);
    assertThat(j.get("version").asText()).isEqualTo(Server.version());
    assertThat(j.get("checks").get("database").asText()).isEqualTo("healthy");
    assertThat(j.get("checks").get("memory").asText()).isEqualTo("healthy");
  }

  @Test
  void liveAndReady() {
    assertThat(http.get("/health/live", null).status()).isEqualTo(200);
    var ready = http.get("/health/ready", null);
    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.json().get("checks").get("migrations").asText()).isEqualTo("applied");
  }

  @Test
  void metricsArePrometheusTextWithJvmHttpAndPoolMetrics() {
    http.get("/health", null);
    var r = http.get("/metrics", null);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
    assertThat(r.body())
        .contains("jvm_memory_used_bytes")
        .contains("http_server_requests_seconds_count")
        .contains("route=\"/health\"")
        .contains("hikaricp_connections");
  }

  @Test
  void unknownXrpcRoutesShareOneMetricLabel() {
    http.get("/xrpc/some.random.nsid" + System.nanoTime(), null);
    String body = http.get("/metrics", null).body();
    assertThat(body).contains("route=\"/xrpc/unknown\"").doesNotContain("some.random.nsid");
  }

  @Test
  void didDocumentHasTheMlsServiceEntry() {
    var r = http.get("/.well-known/did.json", null);
    assertThat(r.status()).isEqualTo(200);
    var j = r.json();
    assertThat(j.get("id").asText()).isEqualTo("did:web:localhost");
    assertThat(j.get("service").get(0).get("id").asText()).isEqualTo("#atproto_mls");
    assertThat(j.get("service").get(0).get("serviceEndpoint").asText()).isEqualTo("https://localhost");
  }
}
