package dev.mlsds.server.xrpc;

import com.fasterxml.jackson.core.JsonGenerator;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Writes a JSON response body straight to the socket: a Jackson generator on the response's output
 * stream, so a page of several MiB of messages is never also held as one {@code String} (and its
 * {@code byte[]} copy) on the heap; what is in memory at once is the page's rows plus Jetty's output
 * buffer. The status and headers go out with the first flushed bytes, so everything that can fail
 * (authorization, the database read) must have happened before {@link #json} is called.
 */
public final class ResponseWriter {
  private ResponseWriter() {}

  public static void json(Context ctx, int status, Object body) throws IOException {
    ctx.status(status).contentType("application/json");
    OutputStream out = ctx.outputStream();
    try (JsonGenerator gen = Json.MAPPER.getFactory().createGenerator(out)) {
      Json.MAPPER.writeValue(gen, body);
    }
  }
}
