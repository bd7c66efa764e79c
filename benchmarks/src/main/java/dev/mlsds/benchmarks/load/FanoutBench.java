package dev.mlsds.benchmarks.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import dev.mlsds.server.storage.Database;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code benchmarks/run fanout}: live delivery latency of one conversation's messages to many SSE
 * subscribers, or the memory of many idle streams; one JSON line on stdout, progress on stderr.
 *
 * <p>The server ({@code dev.mlsds.server.Main serve}, one or two nodes) runs in its own JVM(s); this JVM
 * is the load: one sender posting {@code sendMessage} over HTTP, one message at a time, and the subscribers,
 * raw-socket SSE streams read by a single selector thread that only looks for each event's {@code "seq":}
 * (so the client's own CPU stays small next to the server's on a shared machine).
 *
 * <p>Latency of a message at a subscriber: from the server's {@code receivedAt} (stamped when the request
 * entered its transaction, ms resolution; events can reach subscribers before the sender's 200 does) to the
 * moment the selector read the frame; and from the moment the sender sent the request. Server CPU is read
 * from {@code /proc/<pid>/stat} over the measured messages, this JVM's apart.
 *
 * <p>The conversation and its members are written into the database before the server starts (no MLS
 * Commits: membership rows as an accepted Commit leaves them); at most 32 streams per DID, so subscribers are
 * spread over {@code ceil(n / 10)} members. Bounded: fixed counts, a deadline on every wait, 127.0.0.1 only.
 */
public final class FanoutBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String AUD = "did:web:localhost";
  private static final String STREAM = "blue.catbird.mls.streamConvoEvents";
  private static final String SEND = "blue.catbird.mls.sendMessage";
  private static final Duration OPEN_DEADLINE = Duration.ofMinutes(5);
  private static final Duration MESSAGE_DEADLINE = Duration.ofSeconds(10);
  private static final int STREAMS_PER_MEMBER = 10;
  private static final int IDLE_STREAMS_PER_MEMBER = 25;

  record Options(String backend, int subscribers, int messages, int warmup, int nodes, int idle, int messageBytes,
      int gapMs, String serverJvmOpts, String jfr, String jar) {}

  private final Options o;
  private final Path work;
  private final List<Process> children = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  FanoutBench(Options o) throws IOException {
    this.o = o;
    this.work = Files.createTempDirectory("mlsds-fanout");
  }

  public static void main(String[] args) throws Exception {
    Options o = parse(args);
    FanoutBench b = new FanoutBench(o);
    Runtime.getRuntime().addShutdownHook(new Thread(b::killChildren));
    try {
      System.out.println(b.run());
      b.deleteWork();
    } finally {
      b.killChildren();
    }
  }

  static Options parse(String[] args) {
    Map<String, String> m = new LinkedHashMap<>(Map.of("--backend", "sqlite", "--subscribers", "1000",
        "--messages", "50", "--warmup", "10", "--nodes", "1", "--idle", "0", "--message-bytes", "256",
        "--gap-ms", "50", "--server-jvm-opts", "", "--jfr", ""));
    m.put("--jar", "benchmarks/target/benchmarks.jar");
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("fanout")) {
        continue;
      }
      if (!m.containsKey(a) || i + 1 >= args.length) {
        throw new IllegalArgumentException("usage: fanout --backend postgres|sqlite --subscribers N [--nodes 1|2]"
            + " [--messages M] [--warmup W] [--message-bytes B] [--gap-ms G] | --idle N;"
            + " [--server-jvm-opts '...'] [--jfr FILE]; unknown or incomplete: " + a);
      }
      m.put(a, args[++i]);
    }
    Options o = new Options(m.get("--backend"), Integer.parseInt(m.get("--subscribers")),
        Integer.parseInt(m.get("--messages")), Integer.parseInt(m.get("--warmup")), Integer.parseInt(m.get("--nodes")),
        Integer.parseInt(m.get("--idle")), Integer.parseInt(m.get("--message-bytes")), Integer.parseInt(m.get("--gap-ms")),
        m.get("--server-jvm-opts"), m.get("--jfr"), m.get("--jar"));
    if (!o.backend().equals("sqlite") && !o.backend().equals("postgres")) {
      throw new IllegalArgumentException("--backend must be postgres or sqlite");
    }
    if (o.nodes() < 1 || o.nodes() > 2 || (o.nodes() == 2 && !o.backend().equals("postgres"))) {
      throw new IllegalArgumentException("--nodes 1, or 2 with --backend postgres");
    }
    if (o.subscribers() < 1 || o.subscribers() > 20_000 || o.idle() < 0 || o.idle() > 20_000
        || o.messages() < 1 || o.messages() > 10_000 || o.warmup() < 0 || o.messageBytes() < 16) {
      throw new IllegalArgumentException("--subscribers and --idle up to 20000, --messages 1..10000");
    }
    return o;
  }

  String run() throws Exception {
    boolean idle = o.idle() > 0;
    int streams = idle ? o.idle() : o.subscribers();
    int members = idle ? (streams + IDLE_STREAMS_PER_MEMBER - 1) / IDLE_STREAMS_PER_MEMBER
        : (streams + STREAMS_PER_MEMBER - 1) / STREAMS_PER_MEMBER;
    DevIdentity sender = DevIdentity.generate(KeyType.P256);
    List<DevIdentity> users = new ArrayList<>();
    for (int i = 0; i < members; i++) {
      users.add(DevIdentity.generate(KeyType.P256));
    }
    String dbName = null;
    String url;
    if (o.backend().equals("postgres")) {
      dbName = SendMessageBench.createPgDatabase("fan");
      url = "jdbc:postgresql://127.0.0.1:5432/" + dbName + "?user=postgres";
    } else {
      Files.createDirectories(work.resolve("server"));
      url = "jdbc:sqlite:" + work.resolve("server/mlsds.db");
    }
    try {
      seed(url, sender, users);
      List<Node> nodes = new ArrayList<>();
      for (int n = 0; n < o.nodes(); n++) {
        nodes.add(startNode(url, n));
      }
      return idle ? idle(nodes.get(0), users) : fanout(nodes, sender, users);
    } finally {
      killChildren();
      if (dbName != null) {
        SendMessageBench.dropPgDatabase(dbName);
      }
    }
  }

  // ---- set-up ----

  /** The migrated database with one conversation: the sender as its creator, {@code users} as members. */
  void seed(String url, DevIdentity sender, List<DevIdentity> users) throws Exception {
    try (Database d = Database.open(url, null)) {
      d.migrate();
    }
    try (Connection c = DriverManager.getConnection(url)) {
      c.setAutoCommit(false);
      try (PreparedStatement convo = c.prepareStatement("""
          INSERT INTO convos (id, creator_did, cipher_suite, epoch, latest_seq, created_at) VALUES (?, ?, 1, 0, 0, 0)""");
          PreparedStatement member = c.prepareStatement("""
          INSERT INTO members (convo_id, did, role, active, joined_at, joined_seq) VALUES (?, ?, ?, TRUE, 0, 0)""")) {
        convo.setString(1, SendMessageBench.convoId(0));
        convo.setString(2, sender.did().value());
        convo.executeUpdate();
        member.setString(1, SendMessageBench.convoId(0));
        member.setString(2, sender.did().value());
        member.setString(3, "admin");
        member.executeUpdate();
        for (DevIdentity u : users) {
          member.setString(1, SendMessageBench.convoId(0));
          member.setString(2, u.did().value());
          member.setString(3, "member");
          member.addBatch();
        }
        member.executeBatch();
      }
      c.commit();
    }
  }

  record Node(Process process, int port) {}

  Node startNode(String url, int n) throws Exception {
    int port = SendMessageBench.freePort();
    List<String> cmd = new ArrayList<>(List.of(SendMessageBench.java()));
    if (!o.serverJvmOpts().isBlank()) {
      cmd.addAll(Arrays.asList(o.serverJvmOpts().trim().split("\\s+")));
    }
    cmd.addAll(List.of("-cp", o.jar(), "dev.mlsds.server.Main", "serve"));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("MLSDS_PROFILE", "dev");
    env.put("MLSDS_BIND", "127.0.0.1");
    env.put("MLSDS_PORT", String.valueOf(port));
    env.put("MLSDS_DATA_DIR", work.resolve("server" + n).toString());
    env.put("MLSDS_DATABASE_URL", url);
    env.put("MLSDS_SERVICE_DID", AUD);
    env.put("MLSDS_ALLOW_DID_KEY", "true");
    env.put("MLSDS_RATE_LIMIT_PER_MINUTE", String.valueOf(Integer.MAX_VALUE / 2));
    env.put("MLSDS_IN_FLIGHT_PER_CALLER", String.valueOf(Integer.MAX_VALUE / 2));
    // The node's connection cap (10,000 by default) must leave room beside the streams for the sender and
    // the /metrics scrapes: with --idle 10000 the scrape waited in the listen backlog until it timed out.
    env.put("MLSDS_HTTP_MAX_CONNECTIONS", String.valueOf(Math.max(o.idle(), o.subscribers()) + 1_000));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(work.resolve("server" + n + ".log").toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    children.add(p);
    awaitReady(port, p);
    return new Node(p, port);
  }

  // ---- fan-out ----

  String fanout(List<Node> nodes, DevIdentity sender, List<DevIdentity> users) throws Exception {
    Node senderNode = nodes.get(0);
    Node readers = nodes.get(nodes.size() - 1);
    int n = o.subscribers();
    int total = o.warmup() + o.messages();
    Receiver rx = new Receiver(n, total);
    progress("opening %d SSE streams of one conversation on node %d (%d members)", n, nodes.size(), users.size());
    openStreams(readers.port(), n, i -> users.get(i % users.size()), "?convoId=" + SendMessageBench.convoId(0), rx);
    awaitStreams(readers, n);
    rx.start();
    String body = "{\"convoId\":\"" + SendMessageBench.convoId(0) + "\",\"ciphertext\":{\"$bytes\":\""
        + Base64.getEncoder().withoutPadding().encodeToString(
            SendMessageLoad.privateMessage(SendMessageBench.groupId(0), o.messageBytes())) + "\"}}";
    String[] tokens = new String[total];
    for (int i = 0; i < total; i++) {
      tokens[i] = sender.token(AUD, SEND);
    }
    URI send = URI.create("http://127.0.0.1:" + senderNode.port() + "/xrpc/" + SEND);
    long[] sentNanos = new long[total];
    long[] ackNanos = new long[total];
    long[] receivedAtNanos = new long[total]; // the server's receivedAt, on this JVM's nanoTime scale
    long wallToNano = System.nanoTime() - System.currentTimeMillis() * 1_000_000L;
    long serverCpu0 = 0;
    long clientCpu0 = 0;
    progress("sending %d messages (%d warm-up), one at a time, %d ms apart", total, o.warmup(), o.gapMs());
    int incomplete = 0;
    for (int i = 0; i < total; i++) {
      if (i == o.warmup()) {
        if (!o.jfr().isBlank()) { // records the subscribers' node over the measured messages only
          jcmd(readers, "JFR.start", "name=fanout", "settings=profile",
              "filename=" + Path.of(o.jfr()).toAbsolutePath());
        }
        serverCpu0 = serverTicks(nodes);
        clientCpu0 = SendMessageBench.cpuTicks(ProcessHandle.current().pid());
      }
      sentNanos[i] = System.nanoTime();
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(send).timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + tokens[i]).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      ackNanos[i] = System.nanoTime();
      if (r.statusCode() != 200) {
        throw new IllegalStateException("sendMessage answered " + r.statusCode() + ": " + r.body());
      }
      JsonNode out = JSON.readTree(r.body());
      if (out.path("seq").asLong() != i + 1) {
        throw new IllegalStateException("unexpected seq " + out.path("seq") + " for message " + (i + 1));
      }
      receivedAtNanos[i] = Instant.parse(out.path("receivedAt").asText()).toEpochMilli() * 1_000_000L + wallToNano;
      if (!rx.await(i, MESSAGE_DEADLINE)) {
        incomplete++;
      }
      Thread.sleep(o.gapMs());
    }
    long serverTicks = serverTicks(nodes) - serverCpu0;
    long clientTicks = SendMessageBench.cpuTicks(ProcessHandle.current().pid()) - clientCpu0;
    if (!o.jfr().isBlank()) {
      jcmd(readers, "JFR.stop", "name=fanout");
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("mode", "fanout");
    out.put("backend", o.backend());
    out.put("nodes", o.nodes());
    out.put("subscribers", n);
    out.put("messages", o.messages());
    out.put("messageBytes", o.messageBytes());
    long[] fromAccepted = new long[o.messages() * n];
    long[] fromSent = new long[o.messages() * n];
    int k = 0;
    long missing = 0;
    for (int i = o.warmup(); i < total; i++) {
      for (int s = 0; s < n; s++) {
        long t = rx.received(i, s);
        if (t == 0) {
          missing++;
        } else {
          fromAccepted[k] = t - receivedAtNanos[i];
          fromSent[k] = t - sentNanos[i];
          k++;
        }
      }
    }
    fromAccepted = Arrays.copyOf(fromAccepted, k);
    fromSent = Arrays.copyOf(fromSent, k);
    long[] acks = new long[o.messages()];
    for (int i = o.warmup(); i < total; i++) {
      acks[i - o.warmup()] = ackNanos[i] - sentNanos[i];
    }
    out.put("p50Ms", ms(pct(fromAccepted, 50)));
    out.put("p99Ms", ms(pct(fromAccepted, 99)));
    out.put("maxMs", ms(pct(fromAccepted, 100)));
    out.put("p50FromSendMs", ms(pct(fromSent, 50)));
    out.put("p99FromSendMs", ms(pct(fromSent, 99)));
    out.put("sendAckP50Ms", ms(pct(acks, 50)));
    out.put("missing", missing);
    out.put("incompleteMessages", incomplete);
    out.put("streamsClosed", rx.closed.get());
    out.put("serverCpuMsPerMessage", SendMessageBench.round(serverTicks * 10.0 / o.messages()));
    out.put("clientCpuMsPerMessage", SendMessageBench.round(clientTicks * 10.0 / o.messages()));
    out.put("serverRssMiB", SendMessageBench.round(rssMiB(readers.process().pid())));
    out.put("serverHeapUsedMiB", SendMessageBench.round(heapMiB(readers.port())));
    out.put("loadAvg", loadAvg());
    rx.close();
    return JSON.writeValueAsString(out);
  }

  long serverTicks(List<Node> nodes) throws IOException {
    long t = 0;
    for (Node n : nodes) {
      t += SendMessageBench.cpuTicks(n.process().pid());
    }
    return t;
  }

  // ---- idle streams ----

  String idle(Node node, List<DevIdentity> users) throws Exception {
    int n = o.idle();
    gc(node);
    double heapBefore = heapMiB(node.port());
    double rssBefore = rssMiB(node.process().pid());
    Receiver rx = new Receiver(n, 0);
    progress("opening %d idle all-conversations SSE streams (%d members, %d each)", n, users.size(),
        IDLE_STREAMS_PER_MEMBER);
    long t0 = System.nanoTime();
    openStreams(node.port(), n, i -> users.get(i % users.size()), "", rx);
    awaitStreams(node, n);
    double openSeconds = (System.nanoTime() - t0) / 1e9;
    rx.start();
    Thread.sleep(5_000);
    double rssPeak = rssMiB(node.process().pid());
    gc(node);
    Thread.sleep(1_000);
    double heapAfter = heapMiB(node.port());
    double rssAfter = rssMiB(node.process().pid());
    int active = activeStreams(node.port());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("mode", "idle");
    out.put("backend", o.backend());
    out.put("streams", active);
    out.put("openSeconds", SendMessageBench.round(openSeconds));
    out.put("serverRssMiBBefore", SendMessageBench.round(rssBefore));
    out.put("serverRssMiB", SendMessageBench.round(Math.max(rssPeak, rssAfter)));
    out.put("heapAfterGcMiBBefore", SendMessageBench.round(heapBefore));
    out.put("heapAfterGcMiB", SendMessageBench.round(heapAfter));
    out.put("heapKiBPerStream", SendMessageBench.round((heapAfter - heapBefore) * 1024 / Math.max(1, active)));
    out.put("rssKiBPerStream", SendMessageBench.round((Math.max(rssPeak, rssAfter) - rssBefore) * 1024 / Math.max(1, active)));
    out.put("streamsClosed", rx.closed.get());
    out.put("loadAvg", loadAvg());
    rx.close();
    return JSON.writeValueAsString(out);
  }

  void gc(Node node) throws Exception {
    jcmd(node, "GC.run");
  }

  static void jcmd(Node node, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        String.valueOf(node.process().pid())));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
    }
  }

  // ---- streams ----

  /**
   * Opens {@code n} SSE streams (at most 64 handshakes at a time); each is handed to {@code rx} once its
   * response headers (sent with the first event, "ready") have arrived.
   */
  void openStreams(int port, int n, java.util.function.IntFunction<DevIdentity> user, String query, Receiver rx)
      throws Exception {
    Semaphore handshakes = new Semaphore(64);
    List<Future<SocketChannel>> pending = new ArrayList<>();
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < n; i++) {
        DevIdentity who = user.apply(i);
        pending.add(ex.submit(() -> {
          handshakes.acquire();
          try { // signed just in time: tokens live 60 s, opening 10,000 streams takes longer
            return openStream(port, who.token(AUD, STREAM), query);
          } finally {
            handshakes.release();
          }
        }));
      }
      for (int i = 0; i < n; i++) {
        rx.add(i, pending.get(i).get(OPEN_DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
      }
    }
  }

  static SocketChannel openStream(int port, String token, String query) throws IOException {
    SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
    ch.write(ByteBuffer.wrap(("GET /xrpc/" + STREAM + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Authorization: Bearer " + token + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII)));
    ByteBuffer buf = ByteBuffer.allocate(8192);
    String head = "";
    while (!head.contains("\r\n\r\n")) { // until the end of the headers (the first event may follow)
      if (ch.read(buf) < 0 || !buf.hasRemaining()) {
        throw new IOException("stream closed during handshake: " + head);
      }
      head = new String(buf.array(), 0, buf.position(), StandardCharsets.ISO_8859_1);
    }
    if (!head.startsWith("HTTP/1.1 200")) {
      throw new IOException("stream refused: " + head.lines().findFirst().orElse(""));
    }
    return ch;
  }

  void awaitStreams(Node node, int n) throws Exception {
    long deadline = System.nanoTime() + OPEN_DEADLINE.toNanos();
    int active = activeStreams(node.port());
    while (active < n && System.nanoTime() < deadline) { // bounded by the deadline
      Thread.sleep(200);
      active = activeStreams(node.port());
    }
    progress("%d streams active on the server", active);
  }

  /**
   * Reads every subscriber's socket on one thread, recording when each message's {@code "seq":N} arrives
   * (the one-conversation stream's messageEvent carries it once; nothing else in these streams does).
   */
  static final class Receiver implements AutoCloseable {
    private static final byte[] KEY = "\"seq\":".getBytes(StandardCharsets.US_ASCII);
    private final int subscribers;
    private final int messages;
    private final long[] received; // [message * subscribers + subscriber] = nanoTime
    private final AtomicIntegerArray counts;
    private final Selector selector;
    private final List<SocketChannel> channels = new ArrayList<>();
    final AtomicLong closed = new AtomicLong();
    private volatile boolean running = true;
    private Thread thread;

    /** Per-connection scanning state. */
    private static final class Conn {
      final int index;
      int matched;
      long value = -1;

      Conn(int index) {
        this.index = index;
      }
    }

    Receiver(int subscribers, int messages) throws IOException {
      this.subscribers = subscribers;
      this.messages = messages;
      this.received = new long[Math.max(1, subscribers * messages)];
      this.counts = new AtomicIntegerArray(Math.max(1, messages));
      this.selector = Selector.open();
    }

    void add(int index, SocketChannel ch) throws IOException {
      ch.configureBlocking(false);
      ch.register(selector, SelectionKey.OP_READ, new Conn(index));
      channels.add(ch);
    }

    void start() {
      thread = Thread.ofPlatform().name("fanout-receiver").daemon().start(this::loop);
    }

    private void loop() {
      ByteBuffer buf = ByteBuffer.allocateDirect(256 * 1024);
      byte[] bytes = new byte[buf.capacity()];
      try {
        while (running) { // until close()
          if (selector.select(200) == 0) {
            continue;
          }
          var it = selector.selectedKeys().iterator();
          while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            SocketChannel ch = (SocketChannel) key.channel();
            Conn c = (Conn) key.attachment();
            buf.clear();
            int r;
            try {
              r = ch.read(buf);
            } catch (IOException e) {
              r = -1;
            }
            if (r < 0) {
              key.cancel();
              closed.incrementAndGet();
              continue;
            }
            long now = System.nanoTime();
            buf.flip();
            buf.get(bytes, 0, r);
            scan(c, bytes, r, now);
          }
        }
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    private void scan(Conn c, byte[] b, int len, long now) {
      for (int i = 0; i < len; i++) {
        byte x = b[i];
        if (c.matched < KEY.length) {
          c.matched = x == KEY[c.matched] ? c.matched + 1 : (x == KEY[0] ? 1 : 0);
        } else if (x >= '0' && x <= '9') {
          c.value = (c.value < 0 ? 0 : c.value * 10) + (x - '0');
        } else {
          record(c.index, c.value, now);
          c.matched = x == KEY[0] ? 1 : 0;
          c.value = -1;
        }
      }
    }

    private void record(int subscriber, long seq, long now) {
      int m = (int) seq - 1;
      if (m >= 0 && m < messages && received[m * subscribers + subscriber] == 0) {
        received[m * subscribers + subscriber] = now;
        counts.incrementAndGet(m); // publishes received[] to the sender's thread
      }
    }

    boolean await(int message, Duration deadline) throws InterruptedException {
      long until = System.nanoTime() + deadline.toNanos();
      while (counts.get(message) < subscribers) { // bounded by the deadline
        if (System.nanoTime() > until) {
          return false;
        }
        Thread.sleep(1);
      }
      return true;
    }

    long received(int message, int subscriber) {
      counts.get(message);
      return received[message * subscribers + subscriber];
    }

    @Override
    public void close() throws Exception {
      running = false;
      if (thread != null) {
        thread.join(5_000);
      }
      for (SocketChannel ch : channels) {
        ch.close();
      }
      selector.close();
    }
  }

  // ---- measurements and plumbing ----

  int activeStreams(int port) throws Exception {
    return (int) scrape(port, "mlsds_realtime_streams_active{");
  }

  double heapMiB(int port) throws Exception {
    return scrape(port, "jvm_memory_used_bytes{area=\"heap\"") / 1048576.0;
  }

  /** The sum of the /metrics samples whose line starts with {@code prefix}. */
  double scrape(int port, String prefix) throws Exception {
    // A node opening thousands of streams on a loaded machine can take a while to answer.
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    return r.body().lines().filter(l -> l.startsWith(prefix))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  static double rssMiB(long pid) throws IOException {
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith("VmRSS:")) {
        return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024.0;
      }
    }
    return Double.NaN;
  }

  static String loadAvg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "?";
    }
  }

  static long pct(long[] v, int p) {
    if (v.length == 0) {
      return -1;
    }
    long[] s = v.clone();
    Arrays.sort(s);
    int i = Math.min(s.length - 1, Math.max(0, (int) Math.ceil(p / 100.0 * s.length) - 1));
    return s[i];
  }

  static Double ms(long nanos) {
    return nanos < 0 ? null : SendMessageBench.round(nanos / 1e6);
  }

  void awaitReady(int port, Process p) throws Exception {
    ServerReady.await(http, port, p, work);
  }


  void deleteWork() throws IOException {
    try (var files = Files.walk(work)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  void killChildren() {
    for (Process p : List.copyOf(children)) {
      p.destroy();
      try {
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
      }
      children.remove(p);
    }
  }

  static void progress(String format, Object... args) {
    SendMessageBench.progress(format, args);
  }
}
