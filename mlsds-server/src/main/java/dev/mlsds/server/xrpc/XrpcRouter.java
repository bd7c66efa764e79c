package dev.mlsds.server.xrpc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.auth.Authenticator;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.limits.HttpSettings;
import dev.mlsds.server.limits.InFlight;
import dev.mlsds.server.limits.LargeBodies;
import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.limits.ResponseMemory;
import io.javalin.http.Context;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Routes {@code /xrpc/<nsid>} to its handler, and is the single place where every XRPC call is
 * authenticated, rate-limited and size-limited — no route can be registered around it (the original
 * server's middleware skipped every API route; here the pipeline is the dispatcher itself).
 *
 * <p>Pipeline per call: resolve NSID (404 MethodNotImplemented) → check HTTP method (405 InvalidRequest)
 * → authenticate (401) → rate limit (429) → requests in flight for the caller (429) → read the body with a
 * hard cap (413, before more than the cap is buffered) → large bodies wait for one of a few permits → parse →
 * idempotent replay or handler → JSON (streamed to the socket by {@link ResponseWriter}, except for idempotent
 * replays, whose small bodies are stored).
 */
public final class XrpcRouter {
  public enum Kind { QUERY, PROCEDURE }

  /** A registered method; {@code maxBodyBytes} applies to procedures. */
  public record Method(String nsid, Kind kind, XrpcHandler handler, long maxBodyBytes) {}

  private final Map<String, Method> methods = new TreeMap<>();
  private final Authenticator authenticator;
  private final RateLimiter rateLimiter;
  private final long defaultMaxBody;
  private Idempotency idempotency = Idempotency.NONE;
  private InFlight inFlight = new InFlight(Integer.MAX_VALUE);
  private LargeBodies largeBodies = new LargeBodies(Integer.MAX_VALUE, Integer.MAX_VALUE);
  private long minBodyBytesPerSecond;

  public XrpcRouter(Authenticator authenticator, RateLimiter rateLimiter, long defaultMaxBody) {
    this.authenticator = authenticator;
    this.rateLimiter = rateLimiter;
    this.defaultMaxBody = defaultMaxBody;
  }

  public XrpcRouter query(String nsid, XrpcHandler handler) {
    return add(new Method(nsid, Kind.QUERY, handler, 0));
  }

  public XrpcRouter procedure(String nsid, XrpcHandler handler) {
    return add(new Method(nsid, Kind.PROCEDURE, handler, defaultMaxBody));
  }

  public XrpcRouter procedure(String nsid, long maxBodyBytes, XrpcHandler handler) {
    return add(new Method(nsid, Kind.PROCEDURE, handler, maxBodyBytes));
  }

  private XrpcRouter add(Method m) {
    if (methods.putIfAbsent(m.nsid(), m) != null) {
      throw new IllegalStateException("NSID registered twice: " + m.nsid());
    }
    return this;
  }

  /** Installs replay of idempotent procedures (docs/api.md §1). */
  public void idempotency(Idempotency idempotency) {
    this.idempotency = idempotency;
  }

  /** Installs the per-caller limit on requests in flight (429 beyond it). */
  public void inFlight(InFlight limit) {
    this.inFlight = limit;
  }

  /** Installs the node-wide limit on large bodies parsed and handled at once. */
  public void largeBodies(LargeBodies limit) {
    this.largeBodies = limit;
  }

  /** Request bodies slower than this on average (after {@link HttpSettings#BODY_GRACE}) are refused; 0 = off. */
  public void minBodyBytesPerSecond(long rate) {
    this.minBodyBytesPerSecond = rate;
  }

  public Map<String, Method> methods() {
    return Collections.unmodifiableMap(methods);
  }

  /**
   * Authenticates and rate-limits a call that is not dispatched through {@link #handle} (the streaming
   * endpoints), so those get exactly the same checks.
   */
  public Did authenticate(Context ctx, String nsid) {
    return authenticate(ctx, nsid, true);
  }

  private Did authenticate(Context ctx, String nsid, boolean readOnly) {
    return authenticator.authenticate(ctx.header("Authorization"), nsid, readOnly, ctx.ip(),
        caller -> rateLimiter.check(caller, nsid));
  }

  /** The Javalin handler for {@code /xrpc/{nsid}} on every HTTP method. */
  public void handle(Context ctx) throws Exception {
    String nsid = ctx.pathParam("nsid");
    Method m = methods.get(nsid);
    if (m == null) {
      throw new XrpcException(XrpcError.MethodNotImplemented, "method not implemented: " + abbreviate(nsid));
    }
    String httpMethod = ctx.method().name();
    // HEAD is refused too: getKeyPackages reserves and getWelcome hands out, so a query is not side-effect free.
    boolean okMethod = httpMethod.equals(m.kind() == Kind.QUERY ? "GET" : "POST");
    if (!okMethod) {
      ctx.header("Allow", m.kind() == Kind.QUERY ? "GET" : "POST");
      throw XrpcException.methodNotAllowed(
          nsid + " is a " + (m.kind() == Kind.QUERY ? "query: use GET" : "procedure: use POST"));
    }
    // One participant scope per call: a procedure's jti record joins the transaction of its work.
    Database.inScope(() -> {
      Did caller = authenticate(ctx, nsid, m.kind() == Kind.QUERY);
      try (InFlight.Permit permit = inFlight.acquire(caller)) {
        readAndDispatch(ctx, m, nsid, caller);
      }
      return null;
    });
  }

  private void readAndDispatch(Context ctx, Method m, String nsid, Did caller) throws Exception {
    byte[] body = m.kind() == Kind.PROCEDURE ? readBody(ctx, m.maxBodyBytes(), caller) : new byte[0];
    try (LargeBodies.Permit permit = largeBodies.enter(body.length)) {
      dispatch(ctx, m, nsid, caller, body);
    }
  }

  private void dispatch(Context ctx, Method m, String nsid, Did caller, byte[] body) throws Exception {
    Map<String, java.util.List<String>> query = ctx.queryParamMap();
    query.forEach((name, values) -> {
      rejectNul(name);
      values.forEach(XrpcRouter::rejectNul);
    });
    XrpcParams params = new XrpcParams(query);
    XrpcInput input = parse(body);
    // Compatibility: 2025 clients send senderDid; it may only repeat the caller's identity (docs/api.md §1).
    input.optString("senderDid").filter(s -> !s.equals(caller.value())).ifPresent(s -> {
      throw new XrpcException(XrpcError.Forbidden, "senderDid must be the caller's own DID");
    });
    XrpcCall call = new XrpcCall(nsid, caller, params, input, ctx.attribute(RequestIds.ATTRIBUTE));

    Optional<String> key = m.kind() == Kind.PROCEDURE ? input.optString("idempotencyKey", 1, 64) : Optional.empty();
    if (key.isPresent()) {
      Idempotency.Result r = idempotency.run(caller, nsid, key.get(), () -> invoke(m, call));
      ctx.status(r.status()).contentType("application/json").result(r.body());
      return;
    }
    ResponseMemory.open();
    try {
      Object out = m.handler().handle(call);
      ResponseWriter.json(ctx, 200, out == null ? Map.of() : out);
    } finally {
      ResponseMemory.close(); // the page's rows are written out: their bytes may go to another response
    }
  }

  private static Idempotency.Result invoke(Method m, XrpcCall call) throws Exception {
    Object out = m.handler().handle(call);
    return new Idempotency.Result(200, Json.write(out == null ? Map.of() : out));
  }

  private byte[] readBody(Context ctx, long max, Did caller) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    if (declared > max) {
      throw new XrpcException(XrpcError.PayloadTooLarge, "request body exceeds " + max + " bytes");
    }
    // The raw header: the servlet's getContentType() parses the charset and throws on an illegal name
    // (found by the HTTP fuzzer: `charset="\u00ff"` was a 500). The body is read as bytes; Jackson detects UTF-8/16/32.
    String ct = ctx.header("Content-Type");
    if (ct != null && !ct.isBlank() && !ct.toLowerCase().startsWith("application/json")) {
      throw XrpcException.invalidRequest("content type must be application/json");
    }
    byte[] body = readCapped(ctx.req().getInputStream(), max, minBodyBytesPerSecond);
    rateLimiter.checkBytes(caller, body.length);
    return body;
  }

  private static XrpcInput parse(byte[] body) throws IOException {
    if (body.length == 0) {
      return XrpcInput.empty();
    }
    try {
      JsonNode node = Json.MAPPER.readTree(body);
      rejectNul(node);
      return new XrpcInput(node);
    } catch (JsonProcessingException e) {
      throw XrpcException.invalidRequest("malformed JSON body: " + e.getOriginalMessage());
    } catch (java.io.CharConversionException e) {
      // Jackson detects UTF-16/32 from the first bytes; characters invalid in that encoding were a 500
      // (found by the router fuzz test).
      throw XrpcException.invalidRequest("malformed JSON body: " + e.getMessage());
    }
  }

  /**
   * No input string may hold U+0000: no field of the API has a use for it, and PostgreSQL cannot store it in
   * text, so it ended as a 500 where it reached a query (found by the HTTP fuzzer: an idempotencyKey with a NUL).
   */
  static void rejectNul(String s) {
    if (s != null && s.indexOf('\u0000') >= 0) {
      throw XrpcException.invalidRequest("strings must not contain U+0000");
    }
  }

  private static void rejectNul(JsonNode node) {
    if (node.isTextual()) {
      rejectNul(node.textValue());
    } else if (node.isContainerNode()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        rejectNul(e.getKey());
        rejectNul(e.getValue());
      }
      if (node.isArray()) {
        node.forEach(XrpcRouter::rejectNul);
      }
    }
  }

  /** Reads at most {@code max} bytes; one byte more is a 413, so memory stays bounded by the cap. */
  static byte[] readCapped(InputStream in, long max) throws IOException {
    return readCapped(in, max, 0);
  }

  /**
   * As {@link #readCapped(InputStream, long)}, and a body arriving slower than {@code minBytesPerSecond} on average
   * once {@link HttpSettings#BODY_GRACE} has passed is refused (a slowloris body holds a connection and a permit of
   * its caller); a body that stops arriving (the connection's idle timeout) or breaks off is a 400, not a 500.
   */
  static byte[] readCapped(InputStream in, long max, long minBytesPerSecond) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    long total = 0;
    long start = System.nanoTime();
    long grace = HttpSettings.BODY_GRACE.toNanos();
    int n;
    try {
      while ((n = in.read(buf)) > 0) {
        total += n;
        if (total > max) {
          throw new XrpcException(XrpcError.PayloadTooLarge, "request body exceeds " + max + " bytes");
        }
        out.write(buf, 0, n);
        long elapsed = System.nanoTime() - start;
        if (minBytesPerSecond > 0 && elapsed > grace && total < minBytesPerSecond * (elapsed / 1_000_000_000.0)) {
          throw XrpcException.invalidRequest("request body arrives too slowly (under " + minBytesPerSecond
              + " bytes/s)");
        }
      }
    } catch (IOException e) {
      throw XrpcException.invalidRequest("request body not received: " + e.getClass().getSimpleName());
    }
    return out.toByteArray();
  }

  private static String abbreviate(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "…" : s;
  }
}
