package dev.mlsds.benchmarks.load;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The open-loop generator of {@code benchmarks/run sendmessage --rate R} (wrk2's model; wrk2 itself is not
 * packaged by Debian, and hey/httperf measure from the send, not from the schedule). Runs in its own JVM.
 *
 * <p>Request {@code i} is due at {@code start + i / rate}, whatever happened to earlier ones. A scheduler
 * thread hands each due request to a queue; {@code connections} keep-alive HTTP/1.1 connections (one
 * virtual thread each, one request in flight per connection, as a real client's) take them in order. A
 * request's latency is measured from the time it was <em>due</em>, so when the server falls behind the
 * time requests wait for a free connection counts (no coordinated omission). Requests that would wait in
 * the queue for more than the queue's capacity ({@code 2 s} of the rate) are counted as {@code dropped}:
 * the server did not keep up with the rate.
 *
 * <pre>java -cp benchmarks.jar dev.mlsds.benchmarks.load.OpenLoopLoad DIR PORT PATH PHASE THREADS CONNECTIONS RATE SECONDS</pre>
 *
 * <p>Reads {@code DIR/bodies.txt} and {@code DIR/reqs-PHASE-<t>.txt} (as the wrk script does: pre-signed
 * tokens, one per request), prints one JSON line with the counts, latency percentiles (µs) and its own CPU.
 * Bounded: {@code SECONDS} of schedule plus at most 30 s to drain; 127.0.0.1 only.
 */
public final class OpenLoopLoad {
  private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(30);

  private record Due(int index, long dueNanos) {}

  private OpenLoopLoad() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int port = Integer.parseInt(args[1]);
    String path = args[2];
    String phase = args[3];
    int threads = Integer.parseInt(args[4]);
    int connections = Integer.parseInt(args[5]);
    double rate = Double.parseDouble(args[6]);
    int seconds = Integer.parseInt(args[7]);

    List<String> bodies = Files.readAllLines(dir.resolve("bodies.txt"));
    // Interleave the threads' token files so consecutive requests cycle over the conversations as wrk's do.
    List<List<String>> perThread = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      perThread.add(Files.readAllLines(dir.resolve("reqs-" + phase + "-" + t + ".txt")));
    }
    List<byte[]> requests = new ArrayList<>();
    for (int k = 0; ; k++) {
      boolean any = false;
      for (List<String> lines : perThread) {
        if (k < lines.size()) {
          any = true;
          String[] f = lines.get(k).split("\t");
          requests.add(request(path, port, f[0], bodies.get(Integer.parseInt(f[1]))));
        }
      }
      if (!any) {
        break;
      }
    }
    long total = (long) Math.ceil(rate * seconds);
    if (requests.size() < total) {
      throw new IllegalStateException("only " + requests.size() + " signed requests for " + total + " scheduled");
    }

    int capacity = (int) Math.max(16, Math.min(1_000_000, rate * 2));
    BlockingQueue<Due> queue = new ArrayBlockingQueue<>(capacity);
    long[] latencies = new long[(int) total];
    Arrays.fill(latencies, -1);
    AtomicLong errors = new AtomicLong();
    AtomicLong non2xx = new AtomicLong();
    AtomicLong dropped = new AtomicLong();
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
    long scheduleEnd = start + (long) (total * 1e9 / rate);
    long deadline = scheduleEnd + DRAIN_NANOS;
    Due poison = new Due(-1, 0);

    List<Thread> workers = new ArrayList<>();
    for (int c = 0; c < connections; c++) {
      workers.add(Thread.ofVirtual().start(() -> {
        Connection conn = null;
        try {
          while (true) {
            Due d = queue.poll(100, TimeUnit.MILLISECONDS);
            if (d == poison || System.nanoTime() > deadline) {
              return;
            }
            if (d == null) {
              continue;
            }
            try {
              if (conn == null) {
                conn = new Connection(port);
              }
              int status = conn.exchange(requests.get(d.index()));
              latencies[d.index()] = System.nanoTime() - d.dueNanos();
              if (status < 200 || status > 299) {
                non2xx.incrementAndGet();
              }
              if (conn.closed) {
                conn.close();
                conn = null;
              }
            } catch (IOException e) {
              errors.incrementAndGet();
              latencies[d.index()] = System.nanoTime() - d.dueNanos();
              if (conn != null) {
                conn.close();
              }
              conn = null;
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          if (conn != null) {
            conn.close();
          }
        }
      }));
    }

    for (int i = 0; i < total; i++) {
      long due = start + (long) (i * 1e9 / rate);
      long wait = due - System.nanoTime();
      while (wait > 0) {
        LockSupport.parkNanos(wait);
        wait = due - System.nanoTime();
      }
      if (!queue.offer(new Due(i, due))) {
        dropped.incrementAndGet();
      }
    }
    for (Thread w : workers) {
      while (!queue.offer(poison, 100, TimeUnit.MILLISECONDS)) {
        if (System.nanoTime() > deadline) {
          break;
        }
      }
    }
    for (Thread w : workers) {
      w.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }
    long end = System.nanoTime();

    long[] done = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
    long completed = done.length;
    double cpuMs = ownCpuMs();
    System.out.println(String.format(Locale.ROOT,
        "{\"requests\":%d,\"scheduled\":%d,\"dropped\":%d,\"errors\":%d,\"non2xx\":%d,\"rate\":%.1f,"
            + "\"durationUs\":%d,\"p50Us\":%d,\"p90Us\":%d,\"p99Us\":%d,\"p999Us\":%d,\"maxUs\":%d,\"clientCpuMs\":%.1f}",
        completed, total, dropped.get(), errors.get(), non2xx.get(), rate, (end - start) / 1000,
        pct(done, 0.50), pct(done, 0.90), pct(done, 0.99), pct(done, 0.999),
        done.length == 0 ? 0 : done[done.length - 1] / 1000, cpuMs));
    System.exit(0);
  }

  static long pct(long[] sorted, double q) {
    if (sorted.length == 0) {
      return 0;
    }
    int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
    return sorted[Math.max(0, i)] / 1000;
  }

  static byte[] request(String path, int port, String token, String body) {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nAuthorization: Bearer " + token
        + "\r\nContent-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    byte[] all = Arrays.copyOf(h, h.length + b.length);
    System.arraycopy(b, 0, all, h.length, b.length);
    return all;
  }

  /** utime + stime of this process, in ms (USER_HZ = 100). */
  static double ownCpuMs() {
    try {
      String stat = Files.readString(Path.of("/proc/self/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10.0;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** One keep-alive HTTP/1.1 connection: write a request, read the whole response (length or chunked). */
  static final class Connection {
    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    /** The server said {@code Connection: close}: the next request needs a new connection. */
    boolean closed;

    Connection(int port) throws IOException {
      socket = new Socket(InetAddress.getLoopbackAddress(), port);
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(30_000);
      out = socket.getOutputStream();
      in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
    }

    int exchange(byte[] request) throws IOException {
      out.write(request);
      out.flush();
      String status = line();
      if (!status.startsWith("HTTP/1.1 ")) {
        throw new IOException("bad status line: " + status);
      }
      int code = Integer.parseInt(status.substring(9, 12));
      long length = -1;
      boolean chunked = false;
      boolean close = false;
      for (String h = line(); !h.isEmpty(); h = line()) {
        String lower = h.toLowerCase(Locale.ROOT);
        if (lower.startsWith("content-length:")) {
          length = Long.parseLong(lower.substring(15).strip());
        } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
          chunked = true;
        } else if (lower.startsWith("connection:") && lower.contains("close")) {
          close = true;
        }
      }
      if (chunked) {
        while (true) {
          String size = line();
          int semi = size.indexOf(';');
          long n = Long.parseLong((semi >= 0 ? size.substring(0, semi) : size).strip(), 16);
          if (n == 0) {
            while (!line().isEmpty()) {
              // trailers
            }
            break;
          }
          skip(n);
          line();
        }
      } else if (length >= 0) {
        skip(length);
      } else {
        throw new IOException("response without length");
      }
      closed = close;
      return code;
    }

    private void skip(long n) throws IOException {
      while (n > 0) {
        long k = in.skip(n);
        if (k <= 0) {
          if (in.read() < 0) {
            throw new IOException("eof in body");
          }
          k = 1;
        }
        n -= k;
      }
    }

    private String line() throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream(64);
      int c;
      while ((c = in.read()) >= 0) {
        if (c == '\n') {
          break;
        }
        if (c != '\r') {
          b.write(c);
        }
      }
      if (c < 0) {
        throw new IOException("eof");
      }
      return b.toString(StandardCharsets.US_ASCII);
    }

    void close() {
      try {
        socket.close();
      } catch (IOException e) {
        // gone
      }
    }
  }
}
