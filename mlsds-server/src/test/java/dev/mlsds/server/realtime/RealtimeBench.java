package dev.mlsds.server.realtime;

import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.realtime.RealtimeFixture.Convo;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The realtime load tool behind docs/BENCHMARKS.md ("Realtime"); a program, not a test. Every run is
 * bounded (fixed counts, deadlines on every wait) and talks to 127.0.0.1 only. The server runs in child
 * JVMs started here (with {@code -Xmx1g}), so the heap measured is the server's alone.
 *
 * <pre>
 *   idle   STREAMS [sqlite|postgres]          heap per idle SSE stream
 *   fanout SUBSCRIBERS MESSAGES [same|cross] [durable|async-commit]
 *                                             latency from sendMessage to the event at every subscriber;
 *                                             async-commit takes the disk's fsync out of the measurement
 *   node   JDBC_URL                           (internal) one node: prints its port, answers "heap"
 * </pre>
 *
 * <p>Environment: {@code MLSDS_BENCH_NODE_OPTS} adds JVM options to the nodes; {@code MLSDS_BENCH_PROFILE}
 * (a {@code .jfr} path) records the subscribers' node with JFR while the fan-out messages flow.
 */
public final class RealtimeBench {
  private static final Duration OPEN_DEADLINE = Duration.ofMinutes(5);
  private static final PrintStream OUT = System.out;

  private RealtimeBench() {}

  public static void main(String[] args) throws Exception {
    switch (args.length == 0 ? "" : args[0]) {
      case "node" -> node(args[1]);
      case "idle" -> idle(Integer.parseInt(args[1]), args.length > 2 ? args[2] : "sqlite");
      case "fanout" -> fanout(Integer.parseInt(args[1]), Integer.parseInt(args[2]), args.length > 3 ? args[3] : "same",
          args.length > 4 && args[4].equals("async-commit"));
      default -> {
        System.err.println("usage: RealtimeBench idle STREAMS [sqlite|postgres]"
            + " | fanout SUBSCRIBERS MESSAGES [same|cross] [durable|async-commit]");
        System.exit(2);
      }
    }
  }

  // ---- a node in a child JVM ------------------------------------------------------------------------

  private static void node(String url) throws IOException {
    Server server = Wiring.build(TestServers.config(url), Clock.systemUTC()).start();
    OUT.println("PORT " + server.port());
    OUT.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null && !line.equals("quit"); line = in.readLine()) { // until quit or EOF
      if (line.equals("heap")) {
        OUT.println("HEAP " + heapAfterGc());
        OUT.flush();
      }
    }
    server.stop();
    System.exit(0);
  }

  private static long heapAfterGc() {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      System.gc();
      sleep(300);
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  /** A node in a child JVM, and the lines it prints for this tool. */
  private record Node(Process process, int port, BlockingQueue<String> lines) implements AutoCloseable {
    static Node start(String url) throws IOException, InterruptedException {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      List<String> command = new ArrayList<>(List.of(java, "-Xmx1g"));
      String extra = System.getenv("MLSDS_BENCH_NODE_OPTS"); // e.g. a profiler's options
      if (extra != null && !extra.isBlank()) {
        command.addAll(List.of(extra.trim().split("\\s+")));
      }
      command.addAll(List.of("-cp", System.getProperty("java.class.path"), RealtimeBench.class.getName(), "node", url));
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Thread.ofVirtual().start(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l = r.readLine(); l != null; l = r.readLine()) { // until the child exits
            if (l.startsWith("PORT ") || l.startsWith("HEAP ")) {
              lines.add(l);
            } else if (l.contains("WARN") || l.contains("ERROR") || l.startsWith("\t") || l.contains("Exception")) {
              System.err.println("[node] " + l);
            }
          }
        } catch (IOException e) {
          // child gone
        }
      });
      String port = lines.poll(2, TimeUnit.MINUTES);
      if (port == null) {
        p.destroyForcibly();
        throw new IllegalStateException("node did not start");
      }
      return new Node(p, Integer.parseInt(port.substring(5)), lines);
    }

    long heap() throws IOException, InterruptedException {
      OutputStream in = process.getOutputStream();
      in.write("heap\n".getBytes(StandardCharsets.US_ASCII));
      in.flush();
      String l = lines.poll(1, TimeUnit.MINUTES);
      return Long.parseLong(l.substring(5));
    }

    int activeStreams() {
      String scrape = new Http(port).get("/metrics", null).body();
      return scrape.lines().filter(l -> l.startsWith("mlsds_realtime_streams_active{transport=\"sse\"}"))
          .mapToInt(l -> (int) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Override
    public void close() throws IOException, InterruptedException {
      process.getOutputStream().write("quit\n".getBytes(StandardCharsets.US_ASCII));
      process.getOutputStream().flush();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }

  // ---- idle streams ---------------------------------------------------------------------------------

  private static void idle(int streams, String db) throws Exception {
    TestDatabases.Postgres pg = db.equals("postgres") ? TestDatabases.postgres() : null;
    try (Node node = Node.start(pg != null ? pg.url() : TestDatabases.sqlite())) {
      Http http = new Http(node.port());
      int users = Math.max(1, streams / 100);
      List<TestUser> members = new ArrayList<>();
      for (int i = 0; i < users; i++) { // each user in one conversation of their own
        TestUser u = new TestUser(http, dev.mlsds.server.Config.DEFAULT_SERVICE_DID);
        RealtimeFixture.create(http, u);
        members.add(u);
      }
      long before = node.heap();
      List<Socket> open = openStreams(node.port(), streams, i -> members.get(i % users), i -> "", null);
      long deadline = System.nanoTime() + OPEN_DEADLINE.toNanos();
      while (node.activeStreams() < streams && System.nanoTime() < deadline) { // bounded by the deadline
        sleep(500);
      }
      int active = node.activeStreams();
      sleep(5_000);
      long after = node.heap();
      OUT.printf("idle SSE streams: %d open (%d users, %s), heap after GC %.1f MiB -> %.1f MiB, %.1f KiB per stream%n",
          active, users, db, before / 1048576.0, after / 1048576.0, (after - before) / 1024.0 / Math.max(1, active));
      for (Socket s : open) {
        s.close();
      }
    } finally {
      if (pg != null) {
        pg.close();
      }
    }
  }

  /**
   * Opens {@code n} SSE streams over raw sockets (at most 64 handshakes at a time), each read on its own
   * virtual thread into {@code sink} (null: discarded).
   */
  private static List<Socket> openStreams(int port, int n, java.util.function.IntFunction<TestUser> user,
      java.util.function.IntFunction<String> query, LineSink sink) throws Exception {
    Semaphore handshakes = new Semaphore(64);
    List<Future<Socket>> pending = new ArrayList<>();
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < n; i++) {
        int index = i;
        String token = user.apply(i).token("streamConvoEvents");
        pending.add(ex.submit(() -> {
          handshakes.acquire();
          try {
            return openStream(port, token, query.apply(index), index, sink);
          } finally {
            handshakes.release();
          }
        }));
      }
      List<Socket> out = new ArrayList<>();
      for (Future<Socket> f : pending) {
        out.add(f.get(OPEN_DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
      }
      return out;
    }
  }

  /** Receives each line of stream {@code index}. */
  @FunctionalInterface
  interface LineSink {
    void line(int index, String line, long nanos);
  }

  private static Socket openStream(int port, String token, String query, int index, LineSink sink) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
    s.getOutputStream().write(("GET /xrpc/blue.catbird.mls.streamConvoEvents" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Authorization: Bearer " + token + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    InputStream in = s.getInputStream();
    BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    String status = r.readLine();
    if (status == null || !status.contains(" 200 ")) {
      throw new IOException("stream refused: " + status);
    }
    for (String l = r.readLine(); l != null && !l.isEmpty(); l = r.readLine()) { // the headers
      // skip
    }
    Thread.ofVirtual().start(() -> {
      try {
        for (String l = r.readLine(); l != null; l = r.readLine()) { // until the socket closes
          if (sink != null) {
            sink.line(index, l, System.nanoTime());
          }
        }
      } catch (IOException e) {
        // closed
      }
    });
    return s;
  }

  // ---- fan-out latency ------------------------------------------------------------------------------

  private static void fanout(int subscribers, int messages, String mode, boolean asyncCommit) throws Exception {
    boolean cross = mode.equals("cross");
    TestDatabases.Postgres pg = TestDatabases.postgres();
    if (asyncCommit) {
      try (java.sql.Connection c = java.sql.DriverManager.getConnection(TestDatabases.adminUrl());
          java.sql.Statement st = c.createStatement()) {
        st.execute("ALTER DATABASE " + pg.name() + " SET synchronous_commit TO off");
      }
    }
    try (Node a = Node.start(pg.url()); Node b = cross ? Node.start(pg.url()) : null) {
      Node readers = cross ? b : a;
      Http viaA = new Http(a.port());
      TestUser sender = new TestUser(viaA, dev.mlsds.server.Config.DEFAULT_SERVICE_DID);
      Convo convo = RealtimeFixture.create(viaA, sender);
      int users = Math.min(subscribers, 100);
      List<TestUser> members = new ArrayList<>();
      for (int i = 0; i < users; i++) {
        members.add(new TestUser(viaA, dev.mlsds.server.Config.DEFAULT_SERVICE_DID));
      }
      RealtimeFixture.add(viaA, sender, convo, members.toArray(TestUser[]::new));
      long head = RealtimeFixture.latestSeq(viaA, sender, convo);
      int warmup = 10;
      int total = warmup + messages;
      AtomicLongArray[] received = new AtomicLongArray[total]; // System.nanoTime() at each subscriber
      AtomicLongArray[] latency = new AtomicLongArray[total]; // µs from the message's createdAt (server clock)
      for (int i = 0; i < total; i++) {
        received[i] = new AtomicLongArray(subscribers);
        latency[i] = new AtomicLongArray(subscribers);
      }
      LineSink sink = (index, line, nanos) -> {
        int at = line.indexOf("\"seq\":");
        if (line.startsWith("data: ") && at > 0) {
          java.time.Instant now = java.time.Instant.now();
          long seq = Long.parseLong(line.substring(at + 6, line.indexOf(',', at)));
          int c = line.indexOf("\"createdAt\":\"") + 13;
          java.time.Instant created = java.time.Instant.parse(line.substring(c, line.indexOf('"', c)));
          int i = (int) (seq - head - 1);
          if (i >= 0 && i < total) {
            latency[i].set(index, Duration.between(created, now).toNanos() / 1000);
            received[i].compareAndSet(index, 0, nanos);
          }
        }
      };
      List<Socket> open = openStreams(readers.port(), subscribers, i -> members.get(i % users),
          i -> "?convoId=" + convo.id(), sink);
      long deadline = System.nanoTime() + OPEN_DEADLINE.toNanos();
      while (readers.activeStreams() < subscribers && System.nanoTime() < deadline) { // bounded by the deadline
        sleep(200);
      }
      String profile = System.getenv("MLSDS_BENCH_PROFILE"); // a .jfr file: records the readers' node while messages flow
      if (profile != null) {
        jcmd(readers.process().pid(), "JFR.start", "name=fanout", "settings=profile", "filename=" + profile);
      }
      long nodeCpu = cpuMillis(readers.process().pid()) + (cross ? cpuMillis(a.process().pid()) : 0);
      long selfCpu = cpuMillis(ProcessHandle.current().pid());
      long[] sentAt = new long[total];
      long[] acceptedAt = new long[total]; // the 200 received
      for (int i = 0; i < total; i++) {
        sentAt[i] = System.nanoTime();
        long seq = RealtimeFixture.send(viaA, sender, convo);
        acceptedAt[i] = System.nanoTime();
        if (seq != head + 1 + i) {
          throw new IllegalStateException("unexpected seq " + seq);
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!allReceived(received[i]) && System.nanoTime() < until) { // bounded by the deadline
          sleep(1);
        }
        sleep(20);
      }
      nodeCpu = cpuMillis(readers.process().pid()) + (cross ? cpuMillis(a.process().pid()) : 0) - nodeCpu;
      if (profile != null) {
        jcmd(readers.process().pid(), "JFR.stop", "name=fanout");
      }
      selfCpu = cpuMillis(ProcessHandle.current().pid()) - selfCpu;
      List<Long> fromSend = new ArrayList<>();
      List<Long> fromCreated = new ArrayList<>();
      int missing = 0;
      for (int i = warmup; i < total; i++) {
        for (int s = 0; s < subscribers; s++) {
          long t = received[i].get(s);
          if (t == 0) {
            missing++;
          } else {
            fromSend.add(t - sentAt[i]);
            fromCreated.add(latency[i].get(s) * 1000);
          }
        }
      }
      long[] sendTimes = new long[messages];
      for (int i = warmup; i < total; i++) {
        sendTimes[i - warmup] = acceptedAt[i] - sentAt[i];
      }
      Arrays.sort(sendTimes);
      OUT.printf("fan-out %s-node%s, %d subscribers, %d messages: from accepted (createdAt) p50 %.1f ms p99 %.1f ms"
          + " max %.1f ms; from request sent p50 %.1f ms p99 %.1f ms; sendMessage round trip p50 %.1f ms; missing %d;"
          + " CPU per message: server %.1f ms, this client %.1f ms%n",
          cross ? "cross" : "same", asyncCommit ? " (async commit)" : "", subscribers, messages, pct(fromCreated, 50), pct(fromCreated, 99),
          pct(fromCreated, 100), pct(fromSend, 50), pct(fromSend, 99), sendTimes[sendTimes.length / 2] / 1e6, missing,
          nodeCpu / (double) total, selfCpu / (double) total);
      for (Socket s : open) {
        s.close();
      }
    } finally {
      pg.close();
    }
  }

  private static void jcmd(long pid, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(pid)));
    command.addAll(List.of(args));
    new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
        .waitFor(1, TimeUnit.MINUTES);
  }

  /** User + system CPU time of a process so far, from /proc (Linux). */
  private static long cpuMillis(long pid) {
    try {
      String stat = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10; // clock ticks of 10 ms
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  private static boolean allReceived(AtomicLongArray a) {
    for (int i = 0; i < a.length(); i++) {
      if (a.get(i) == 0) {
        return false;
      }
    }
    return true;
  }

  private static double pct(List<Long> nanos, int p) {
    if (nanos.isEmpty()) {
      return Double.NaN;
    }
    long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
    int i = Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1);
    return Math.max(0, sorted[Math.max(0, i)]) / 1e6;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
