package dev.mlsds.server.xrpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The XRPC plumbing over real HTTP on a real node (SQLite): routing, the error envelope, body limits,
 * {@code $bytes}, idempotent replay, and that nothing unexpected leaks as anything but a generic 500.
 * Authentication here is a stand-in that accepts {@code Bearer test:<did>}; the real verifier has its own tests.
 */
class XrpcHttpTest {
  static Server server;
  static Http http;
  static final AtomicInteger writes = new AtomicInteger();

  @BeforeAll
  static void start() {
    server = new Server(TestServers.config(TestDatabases.sqlite()), Clock.systemUTC(), (header, nsid) -> {
      if (header == null) {
        throw new XrpcException(XrpcError.AuthenticationRequired, "no token");
      }
      if (!header.startsWith("Bearer test:")) {
        throw new XrpcException(XrpcError.InvalidToken, "bad token");
      }
      return new Did(header.substring("Bearer test:".length()));
    }, RateLimiter.UNLIMITED);
    server.router().idempotency(new IdempotencyStore(server.database(), Clock.systemUTC()));
    server.router()
        .query("test.echoQuery", call -> Map.of("n", call.params().integer("n", 1, 10, 5),
            "caller", call.caller().value()))
        .procedure("test.echoBytes", call -> {
          byte[] data = call.input().bytes("data");
          return Map.of("data", data, "writes", writes.incrementAndGet());
        })
        .procedure("test.fail", call -> {
          throw new IllegalStateException("secret internal detail");
        })
        .procedure("test.reject", call -> {
          writes.incrementAndGet();
          throw new XrpcException(XrpcError.StaleEpoch, "stale", Map.of("currentEpoch", 3, "latestSeq", 9));
        });
    server.start();
    http = new Http(server.port());
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  static final String ALICE = "test:did:plc:alice";

  @Test
  void unknownNsidIsMethodNotImplemented() {
    var r = http.get("/xrpc/blue.catbird.mls.doesNotExist", ALICE);
    assertThat(r.status()).isEqualTo(404);
    assertThat(r.error()).isEqualTo("MethodNotImplemented");
  }

  @Test
  void wrongHttpMethodIs405InvalidRequest() {
    var r = http.post("/xrpc/test.echoQuery", ALICE, "{}");
    assertThat(r.status()).isEqualTo(405);
    assertThat(r.error()).isEqualTo("InvalidRequest");
    var r2 = http.get("/xrpc/test.echoBytes", ALICE);
    assertThat(r2.status()).isEqualTo(405);
    assertThat(r2.error()).isEqualTo("InvalidRequest");
  }

  @Test
  void missingAuthorizationIs401BeforeAnythingRuns() {
    int before = writes.get();
    var r = http.post("/xrpc/test.echoBytes", null, "{\"data\":\"AAEC\"}");
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.error()).isEqualTo("AuthenticationRequired");
    assertThat(writes.get()).isEqualTo(before);
  }

  @Test
  void queryParamsAreTypedAndBounded() {
    var ok = http.get("/xrpc/test.echoQuery?n=7", ALICE);
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.json().get("n").asInt()).isEqualTo(7);
    assertThat(ok.json().get("caller").asText()).isEqualTo("did:plc:alice");
    assertThat(http.get("/xrpc/test.echoQuery?n=x", ALICE).error()).isEqualTo("InvalidRequest");
    assertThat(http.get("/xrpc/test.echoQuery?n=11", ALICE).error()).isEqualTo("InvalidRequest");
  }

  @Test
  void bytesAcceptAtprotoFormAndPlainBase64InAllFourVariantsAndAlwaysOutputPaddedBytes() {
    for (String input : new String[] {"{\"$bytes\":\"AAEC/w\"}", "{\"$bytes\":\"AAEC_w==\"}", "\"AAEC/w==\"",
        "\"AAEC/w\"", "\"AAEC_w==\"", "\"AAEC_w\""}) {
      var r = http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":" + input + "}");
      assertThat(r.status()).as(input).isEqualTo(200);
      assertThat(r.json().get("data").get("$bytes").asText()).isEqualTo("AAEC/w==");
    }
  }

  @Test
  void malformedJsonAndWrongTypesAreInvalidRequestAndWriteNothing() {
    int before = writes.get();
    assertThat(http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":").error()).isEqualTo("InvalidRequest");
    assertThat(http.post("/xrpc/test.echoBytes", ALICE, "[1,2]").error()).isEqualTo("InvalidRequest");
    assertThat(http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":12}").error()).isEqualTo("InvalidRequest");
    assertThat(http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":\"!!notbase64!!\"}").error()).isEqualTo("InvalidRequest");
    assertThat(http.post("/xrpc/test.echoBytes", ALICE, "{}").error()).isEqualTo("InvalidRequest");
    assertThat(writes.get()).isEqualTo(before);
  }

  @Test
  void oversizedBodyIs413WithDeclaredOrChunkedLength() {
    long max = server.config().limits().requestMaxBytes();
    String big = "{\"data\":\"" + "A".repeat((int) max) + "\"}";
    var declared = http.post("/xrpc/test.echoBytes", ALICE, big);
    assertThat(declared.status()).isEqualTo(413);
    assertThat(declared.error()).isEqualTo("PayloadTooLarge");
    // Without Content-Length (chunked), the cap is enforced while reading.
    byte[] bytes = big.getBytes();
    HttpRequest chunked = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/xrpc/test.echoBytes"))
        .header("Authorization", "Bearer " + ALICE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(bytes))).build();
    var r = http.send(chunked);
    assertThat(r.status()).isEqualTo(413);
    assertThat(r.error()).isEqualTo("PayloadTooLarge");
  }

  /** Regression (router fuzz test): a body Jackson reads as UTF-32 with an invalid character was a 500. */
  @Test
  void anInvalidUtf32BodyIs400() {
    byte[] body = {0, 0, 0, '{', 0x79, (byte) 0xbc, (byte) 0xe0, 0, 0, 0, 0, '}'};
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/xrpc/test.echoBytes"))
        .header("Authorization", "Bearer " + ALICE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    var r = http.send(req);
    assertThat(r.status()).as(r.body()).isEqualTo(400);
    assertThat(r.error()).isEqualTo("InvalidRequest");
  }

  /** Regression (HTTP fuzzer): a NUL in a string (an idempotencyKey) reached PostgreSQL, which refuses it: 500. */
  @Test
  void aNulInAnyInputStringIs400() {
    int before = writes.get();
    var body = http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":{\"$bytes\":\"AQI\"},\"idempotencyKey\":\"k\\u0000\"}");
    assertThat(body.status()).as(body.body()).isEqualTo(400);
    assertThat(body.error()).isEqualTo("InvalidRequest");
    var nested = http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":{\"$bytes\":\"AQI\"},\"x\":[{\"a\\u0000\":1}]}");
    assertThat(nested.status()).isEqualTo(400);
    var query = http.get("/xrpc/test.echoQuery?n=1&cursor=%00", ALICE);
    assertThat(query.status()).isEqualTo(400);
    assertThat(query.error()).isEqualTo("InvalidRequest");
    assertThat(writes.get()).isEqualTo(before);
  }

  /** Regression (router fuzz test): requests Jetty refuses itself get the XRPC error envelope, not an HTML page. */
  @Test
  void requestsRefusedByJettyGetTheXrpcErrorEnvelope() {
    var ambiguous = http.get("/xrpc/blue.catbird.mls.a%2Fb", ALICE);
    assertThat(ambiguous.status()).isBetween(400, 499);
    assertThat(ambiguous.json().path("error").asText()).as(ambiguous.body()).isNotEmpty();
    HttpRequest big = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/xrpc/test.echoQuery"))
        .header("Authorization", "Bearer " + ALICE).header("X-Big", "a".repeat(64 * 1024)).GET().build();
    var tooBig = http.send(big);
    assertThat(tooBig.status()).isEqualTo(431);
    assertThat(tooBig.json().path("error").asText()).as(tooBig.body()).isEqualTo("InvalidRequest");
  }

  /** Regression (HTTP fuzzer): an illegal or unknown charset in Content-Type was a 500 from the servlet's parser. */
  @Test
  void aBadCharsetInContentTypeIsNotA500() {
    for (String ct : new String[] {"application/json; charset=@", "application/json; charset=x-no-such-charset",
        "application/json; charset=\"\"", "text/plain; charset=@"}) {
      HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/xrpc/test.echoBytes"))
          .header("Authorization", "Bearer " + ALICE).header("Content-Type", ct)
          .POST(HttpRequest.BodyPublishers.ofString("{\"data\":{\"$bytes\":\"AQI\"}}")).build();
      var r = http.send(req);
      assertThat(r.status()).as(ct + ": " + r.body()).isIn(200, 400);
      if (ct.startsWith("text/")) {
        assertThat(r.error()).isEqualTo("InvalidRequest");
      }
    }
  }

  @Test
  void unexpectedExceptionsAreGeneric500WithRequestIdAndNoInternals() {
    var r = http.post("/xrpc/test.fail", ALICE, "{}");
    assertThat(r.status()).isEqualTo(500);
    assertThat(r.error()).isEqualTo("InternalError");
    assertThat(r.body()).doesNotContain("secret").doesNotContain("IllegalState");
    String id = r.headers().firstValue("X-Request-Id").orElseThrow();
    assertThat(r.json().get("message").asText()).contains(id);
  }

  @Test
  void errorExtrasAreInTheEnvelope() {
    var r = http.post("/xrpc/test.reject", ALICE, "{}");
    assertThat(r.status()).isEqualTo(409);
    assertThat(r.json().get("error").asText()).isEqualTo("StaleEpoch");
    assertThat(r.json().get("currentEpoch").asInt()).isEqualTo(3);
    assertThat(r.json().get("latestSeq").asInt()).isEqualTo(9);
  }

  @Test
  void idempotencyKeyReplaysFirstResultPerCallerAndRunsOnce() {
    String body = "{\"data\":\"AQ\",\"idempotencyKey\":\"k-replay-1\"}";
    var first = http.post("/xrpc/test.echoBytes", ALICE, body);
    int after = writes.get();
    var second = http.post("/xrpc/test.echoBytes", ALICE, body);
    assertThat(second.status()).isEqualTo(first.status());
    assertThat(second.body()).isEqualTo(first.body());
    assertThat(writes.get()).isEqualTo(after);
    // Another caller with the same key is independent.
    var bob = http.post("/xrpc/test.echoBytes", "test:did:plc:bob", body);
    assertThat(bob.status()).isEqualTo(200);
    assertThat(writes.get()).isEqualTo(after + 1);
  }

  @Test
  void idempotentReplayOfAnErrorReturnsTheSameError() {
    String body = "{\"idempotencyKey\":\"k-reject\"}";
    var first = http.post("/xrpc/test.reject", ALICE, body);
    int after = writes.get();
    var second = http.post("/xrpc/test.reject", ALICE, body);
    assertThat(second.status()).isEqualTo(409);
    assertThat(second.body()).isEqualTo(first.body());
    assertThat(writes.get()).isEqualTo(after);
  }

  @Test
  void idempotencyKeyLengthIsChecked() {
    var r = http.post("/xrpc/test.echoBytes", ALICE, "{\"data\":\"AQ\",\"idempotencyKey\":\"" + "k".repeat(65) + "\"}");
    assertThat(r.error()).isEqualTo("InvalidRequest");
  }

  @Test
  void nonXrpcUnknownPathIsJson404() {
    var r = http.get("/nothing/here", null);
    assertThat(r.status()).isEqualTo(404);
    assertThat(r.error()).isEqualTo("NotFound");
  }

  @Test
  void requestIdIsEchoed() {
    var r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health/live"))
        .header("X-Request-Id", "abc-123").GET().build());
    assertThat(r.headers().firstValue("X-Request-Id")).contains("abc-123");
  }
}
