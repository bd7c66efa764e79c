package dev.mlsds.server.xrpc;

import io.javalin.http.Context;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.slf4j.MDC;

/**
 * Gives each request an id: the client's {@code X-Request-Id} if it is short and plain, otherwise a random
 * one. It is echoed in the response header, put in the logging MDC (key {@code requestId}) and attached
 * to 500 responses so an operator can find the log line.
 */
public final class RequestIds {
  public static final String ATTRIBUTE = "mlsds.requestId";
  public static final String HEADER = "X-Request-Id";
  private static final SecureRandom RANDOM = new SecureRandom();

  private RequestIds() {}

  public static void assign(Context ctx) {
    String given = ctx.header(HEADER);
    String id = given != null && given.matches("[A-Za-z0-9._-]{1,64}") ? given : newId();
    ctx.attribute(ATTRIBUTE, id);
    ctx.header(HEADER, id);
    MDC.put("requestId", id);
  }

  public static String newId() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
