package dev.mlsds.server.realtime;

import jakarta.servlet.http.HttpServletResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.ee10.servlet.ServletContextResponse;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Invocable;

/**
 * Server-Sent Events framing: {@code id: <cursor>}, {@code event: <type>}, {@code data: <json>}, a blank
 * line; {@code :keepalive} comments when idle. Frames go out through Jetty's non-blocking response write
 * (the servlet output stream is never used), as many queued frames per write as are waiting.
 */
final class SseSink extends AsyncSink {
  private static final byte[] KEEPALIVE = ":keepalive\n\n".getBytes(StandardCharsets.UTF_8);
  private final ServletContextResponse response;

  SseSink(HttpServletResponse response, Duration writeTimeout) {
    super(writeTimeout);
    this.response = ServletContextResponse.getServletContextResponse(response);
  }

  @Override
  public void event(String type, String id, String json) throws java.io.IOException {
    offer(Framing.SSE.encode(type, id, json));
  }

  @Override
  public void entry(LogEntry entry, String id) throws java.io.IOException {
    offer(entry.frame(Framing.SSE, id));
  }

  @Override
  public void keepalive() throws java.io.IOException {
    offer(KEEPALIVE);
  }

  @Override
  protected int size(Object frame) {
    return ((byte[]) frame).length;
  }

  @Override
  protected boolean batches() {
    return true;
  }

  @Override
  protected void write(List<Object> frames, Done done) {
    ByteBuffer buf;
    if (frames.size() == 1) {
      buf = ByteBuffer.wrap((byte[]) frames.get(0));
    } else {
      int n = 0;
      for (Object f : frames) {
        n += ((byte[]) f).length;
      }
      buf = ByteBuffer.allocate(n);
      for (Object f : frames) {
        buf.put((byte[]) f);
      }
      buf.flip();
    }
    response.write(false, buf, Callback.from(Invocable.InvocationType.NON_BLOCKING, done::succeeded, done::failed));
  }

  /** One event in SSE framing; {@code json} is the complete data object. */
  static byte[] frame(String type, String id, String json) {
    StringBuilder sb = new StringBuilder(json.length() + 64);
    if (id != null) {
      sb.append("id: ").append(id).append('\n');
    }
    sb.append("event: ").append(type).append('\n');
    if (json.indexOf('\n') < 0 && json.indexOf('\r') < 0) {
      sb.append("data: ").append(json).append('\n');
    } else {
      // Jackson writes no raw line breaks, but a stored payload is data: a data line per line keeps the framing.
      for (String line : json.split("\r\n|\r|\n", -1)) {
        sb.append("data: ").append(line).append('\n');
      }
    }
    return sb.append('\n').toString().getBytes(StandardCharsets.UTF_8);
  }
}
