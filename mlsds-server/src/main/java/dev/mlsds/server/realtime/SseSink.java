package dev.mlsds.server.realtime;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Server-Sent Events framing: {@code id: <cursor>}, {@code event: <type>}, {@code data: <json>}, a blank
 * line; {@code :keepalive} comments when idle. Each event is flushed at once.
 */
final class SseSink implements EventSink {
  private static final byte[] KEEPALIVE = ":keepalive\n\n".getBytes(StandardCharsets.UTF_8);
  private final OutputStream out;

  SseSink(OutputStream out) {
    this.out = out;
  }

  @Override
  public void event(String type, String id, String json) throws IOException {
    write((byte[]) Framing.SSE.encode(type, id, json));
  }

  @Override
  public void entry(LogEntry entry, String id) throws IOException {
    write((byte[]) entry.frame(Framing.SSE, id));
  }

  private void write(byte[] frame) throws IOException {
    out.write(frame);
    out.flush();
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

  @Override
  public void keepalive() throws IOException {
    out.write(KEEPALIVE);
    out.flush();
  }
}
