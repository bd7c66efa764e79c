package dev.mlsds.server.xrpc;

import dev.mlsds.server.storage.DatabaseFaults;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single place that writes error bodies: {@code {"error": name, "message": text, ...extras}}.
 * Anything unexpected becomes a 500 {@code InternalError} whose message carries only the request id;
 * the stack trace goes to the log under that id, never to the client.
 */
public final class ErrorResponses {
  private static final Logger log = LoggerFactory.getLogger(ErrorResponses.class);

  private ErrorResponses() {}

  public static void install(JavalinConfig cfg) {
    install(cfg, 5);
  }

  /**
   * Installs the handlers; a database that is unavailable (see {@link DatabaseFaults}) is a 503
   * {@code Unavailable} with {@code Retry-After: retryAfterSeconds}, never a 500 (API.md §1).
   */
  public static void install(JavalinConfig cfg, long retryAfterSeconds) {
    cfg.routes.exception(XrpcException.class, (e, ctx) -> write(ctx, e));
    cfg.routes.exception(HttpResponseException.class, (e, ctx) -> write(ctx, fromJavalin(e)));
    cfg.routes.exception(Exception.class, (e, ctx) -> {
      String id = ctx.attribute(RequestIds.ATTRIBUTE);
      if (DatabaseFaults.isUnavailable(e)) {
        log.warn("database unavailable handling {} {} (request {}): {}", ctx.method(), ctx.path(), id, rootMessage(e));
        write(ctx, new XrpcException(XrpcError.Unavailable, "the database is unavailable; retry later (request "
            + id + ")", Map.of(), retryAfterSeconds));
        return;
      }
      log.error("internal error handling {} {} (request {})", ctx.method(), ctx.path(), id, e);
      write(ctx, new XrpcException(XrpcError.InternalError, "internal error (request " + id + ")"));
    });
    cfg.routes.error(404, ctx -> {
      if (ctx.result() == null || ctx.result().isEmpty()) {
        write(ctx, new XrpcException(XrpcError.NotFound, "no such endpoint: " + ctx.path()));
      }
    });
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }

  private static XrpcException fromJavalin(HttpResponseException e) {
    return switch (e.getStatus()) {
      case 404 -> new XrpcException(XrpcError.NotFound, "no such endpoint");
      case 405 -> XrpcException.methodNotAllowed("method not allowed");
      case 413 -> new XrpcException(XrpcError.PayloadTooLarge, "request body too large");
      default -> e.getStatus() >= 500
          ? new XrpcException(XrpcError.InternalError, "internal error")
          : XrpcException.invalidRequest(e.getMessage() == null ? "bad request" : e.getMessage());
    };
  }

  public static void write(Context ctx, XrpcException e) {
    if (e.retryAfterSeconds() > 0) {
      ctx.header("Retry-After", Long.toString(e.retryAfterSeconds()));
    }
    ctx.status(e.status()).contentType("application/json").result(body(e));
  }

  /** The JSON error body for {@code e}. */
  public static String body(XrpcException e) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", e.error().name());
    body.put("message", e.getMessage());
    body.putAll(e.extras());
    return Json.write(body);
  }
}
