package dev.mlsds.benchmarks.fuzz;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A deliberately minimal HTTP/1.1 client over one keep-alive socket: it sends the request bytes exactly as
 * given (bad UTF-8, raw query strings, duplicate headers — what {@code java.net.http} refuses to send) and
 * reads one response (Content-Length, chunked, or until close). Every read is bounded by the deadline.
 */
final class RawHttp implements Closeable {
  /** One response; {@code status} 0 when the connection closed without one. */
  record Response(int status, byte[] body, boolean closed) {
    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** The server did not answer within the deadline. */
  static final class DeadlineExceeded extends IOException {
    DeadlineExceeded(String m) {
      super(m);
    }
  }

  private static final int MAX_RESPONSE = 64 * 1024 * 1024;
  private final String host;
  private final int port;
  private final int deadlineMs;
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  RawHttp(String host, int port, int deadlineMs) {
    this.host = host;
    this.port = port;
    this.deadlineMs = deadlineMs;
  }

  /** Sends {@code head} (request line and headers, without the blank line) and {@code body}. */
  Response exchange(String method, String target, String[] headers, byte[] body) throws IOException {
    ByteArrayOutputStream req = new ByteArrayOutputStream(256 + (body == null ? 0 : body.length));
    req.writeBytes((method + " " + target + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    for (String h : headers) {
      req.writeBytes((h + "\r\n").getBytes(StandardCharsets.UTF_8));
    }
    if (body != null) {
      req.writeBytes(("Content-Length: " + body.length + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    }
    req.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
    if (body != null) {
      req.writeBytes(body);
    }
    return send(req.toByteArray(), false);
  }

  /**
   * Sends raw bytes. A stale keep-alive connection (closed by the server between requests) is retried once
   * on a new connection, when {@code fresh} is false.
   */
  Response send(byte[] request, boolean fresh) throws IOException {
    boolean reused = socket != null;
    try {
      connect();
      out.write(request);
      out.flush();
      return read(request.length > 4 && request[0] == 'H' && request[1] == 'E' && request[2] == 'A');
    } catch (DeadlineExceeded e) {
      close();
      throw e;
    } catch (IOException e) {
      close();
      if (reused && !fresh) {
        return send(request, true);
      }
      throw e;
    }
  }

  private void connect() throws IOException {
    if (socket == null) {
      Socket s = new Socket();
      s.setTcpNoDelay(true);
      s.connect(new InetSocketAddress(host, port), deadlineMs);
      s.setSoTimeout(deadlineMs);
      socket = s;
      in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
      out = s.getOutputStream();
    }
  }

  private Response read(boolean head) throws IOException {
    long deadline = System.nanoTime() + deadlineMs * 1_000_000L;
    try {
      String status = line(deadline);
      if (status == null) {
        throw new IOException("connection closed before a response");
      }
      String[] parts = status.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
        throw new IOException("bad status line: " + status);
      }
      int code = Integer.parseInt(parts[1]);
      long length = -1;
      boolean chunked = false;
      boolean close = parts[0].equals("HTTP/1.0");
      String h;
      while ((h = line(deadline)) != null && !h.isEmpty()) {
        int c = h.indexOf(':');
        if (c < 0) {
          continue;
        }
        String name = h.substring(0, c).trim().toLowerCase(Locale.ROOT);
        String value = h.substring(c + 1).trim();
        switch (name) {
          case "content-length" -> length = Long.parseLong(value);
          case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
          case "connection" -> close |= value.equalsIgnoreCase("close");
          default -> { }
        }
      }
      if (code >= 100 && code < 200 && code != 101) {
        return read(head); // 100 Continue: the final response follows
      }
      byte[] body;
      if (head || code == 204 || code == 304 || (code >= 100 && code < 200)) {
        body = new byte[0];
      } else if (chunked) {
        body = chunkedBody(deadline);
      } else if (length >= 0) {
        if (length > MAX_RESPONSE) {
          throw new IOException("response too large: " + length);
        }
        body = in.readNBytes((int) length);
        if (body.length < length) {
          throw new IOException("truncated response body");
        }
      } else {
        body = readToClose(deadline);
        close = true;
      }
      if (close) {
        close();
      }
      return new Response(code, body, close);
    } catch (SocketTimeoutException e) {
      throw new DeadlineExceeded("no complete response within " + deadlineMs + " ms");
    }
  }

  private byte[] chunkedBody(long deadline) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (true) {
      String size = line(deadline);
      if (size == null) {
        throw new IOException("connection closed inside a chunked body");
      }
      int semi = size.indexOf(';');
      int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
      if (n == 0) {
        String t;
        while ((t = line(deadline)) != null && !t.isEmpty()) {
          // trailers
        }
        return b.toByteArray();
      }
      if (b.size() + n > MAX_RESPONSE) {
        throw new IOException("response too large");
      }
      byte[] chunk = in.readNBytes(n);
      if (chunk.length < n) {
        throw new IOException("truncated chunk");
      }
      b.writeBytes(chunk);
      line(deadline);
      checkDeadline(deadline);
    }
  }

  private byte[] readToClose(long deadline) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    int n;
    while ((n = in.read(buf)) > 0) {
      b.write(buf, 0, n);
      checkDeadline(deadline);
      if (b.size() > MAX_RESPONSE) {
        throw new IOException("response too large");
      }
    }
    return b.toByteArray();
  }

  private String line(long deadline) throws IOException {
    StringBuilder s = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        int len = s.length();
        return len > 0 && s.charAt(len - 1) == '\r' ? s.substring(0, len - 1) : s.toString();
      }
      s.append((char) c);
      if (s.length() > 64 * 1024) {
        throw new IOException("header line too long");
      }
    }
    checkDeadline(deadline);
    return s.isEmpty() ? null : s.toString();
  }

  private static void checkDeadline(long deadline) throws DeadlineExceeded {
    if (System.nanoTime() > deadline) {
      throw new DeadlineExceeded("response not complete within the deadline");
    }
  }

  @Override
  public void close() {
    if (socket != null) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing
      }
    }
    socket = null;
    in = null;
    out = null;
  }
}
