package dev.mlsds.server.xrpc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error answers — requests refused before they reach the router (a URI Jetty will not route, such
 * as an encoded {@code /} in the path; a header section over the limit, 431; a URI too long, 414; a malformed
 * request line) — with the XRPC error envelope instead of Jetty's HTML page, so that every answer of the node
 * is {@code {"error", "message"}} JSON (found by the router fuzz test).
 */
public final class JettyErrors extends ErrorHandler {
  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) throws IOException {
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
    response.write(true, ByteBuffer.wrap(body(code, message)), callback);
  }

  @Override
  public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
    fields.put(HttpHeader.CONTENT_TYPE, "application/json");
    return ByteBuffer.wrap(body(status, reason));
  }

  static byte[] body(int status, String reason) {
    XrpcError error = switch (status) {
      case 404 -> XrpcError.NotFound;
      case 413 -> XrpcError.PayloadTooLarge;
      default -> status >= 500 ? XrpcError.InternalError : XrpcError.InvalidRequest;
    };
    String message = status >= 500 ? "internal error"
        : "HTTP " + status + (reason == null || reason.isBlank() ? "" : ": " + abbreviate(reason));
    return ErrorResponses.body(new XrpcException(error, message)).getBytes(StandardCharsets.UTF_8);
  }

  private static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "…" : s;
  }
}
