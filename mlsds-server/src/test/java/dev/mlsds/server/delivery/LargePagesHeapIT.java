package dev.mlsds.server.delivery;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * H1 (security review): a member who stored many large messages could make any getMessages/getCommits
 * call build a response of GBs and kill the node with OutOfMemoryError. Here 24 messages of 3 MiB (12
 * of them commits, 72 MiB in all) are stored, then a node in a child JVM with {@code -Xmx128m} serves
 * six concurrent readers asking for {@code limit=500} pages and every commit: each page stops at the
 * 8 MiB byte budget with an honest {@code hasMore}, the pages being written at once share 16 MiB of
 * response memory (the readers queue for it), every message is reached by paging, and the child never
 * logs an OutOfMemoryError.
 */
class LargePagesHeapIT {
  static final int PAIRS = 12;
  static final int SIZE = 3 * 1024 * 1024;
  static final String HEAP = "-Xmx128m";
  static final int READERS = 6;
  /** Room for two 6 MiB pages at once: the six readers queue for it (ResponseMemory). */
  static final long RESPONSE_MEMORY = 16L * 1024 * 1024;

  @Test
  @DisplayName("H1: huge pages on SQLite are cut by bytes, served from a 128 MiB heap, no OutOfMemoryError")
  void sqlite() throws Exception {
    scenario(TestDatabases.sqlite());
  }

  @Test
  @DisplayName("H1: huge pages on PostgreSQL are cut by bytes, served from a 128 MiB heap, no OutOfMemoryError")
  void postgres() throws Exception {
    try (TestDatabases.Postgres pg = TestDatabases.postgres()) {
      scenario(pg.url());
    }
  }

  void scenario(String url) throws Exception {
    Server seed = TestServers.start(url);
    TestUser alice = TestUser.on(seed);
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    String convo = HexFormat.of().formatHex(g);
    try {
      assertThat(alice.post("createConvo", Map.of("groupId", convo,
          "cipherSuite", "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519")).status()).isEqualTo(200);
      for (int e = 0; e < PAIRS; e++) {
        send(alice, convo, bigPrivateMessage(g, e, ContentType.COMMIT));
        send(alice, convo, bigPrivateMessage(g, e + 1, ContentType.APPLICATION));
      }
    } finally {
      seed.stop();
    }

    Process node = startNode(url, System.getProperty("mlsds.h1.pageMaxBytes"));
    List<String> output = new CopyOnWriteArrayList<>();
    LinkedBlockingQueue<String> ports = new LinkedBlockingQueue<>();
    Thread.ofVirtual().start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8))) {
        for (String l = r.readLine(); l != null; l = r.readLine()) {
          output.add(l);
          if (l.startsWith("PORT ")) {
            ports.add(l.substring(5));
          }
        }
      } catch (java.io.IOException e) {
        // child gone
      }
    });
    try {
      String port = ports.poll(2, TimeUnit.MINUTES);
      assertThat(port).as("node started; output: %s", output).isNotNull();
      Http http = new Http(Integer.parseInt(port));
      TestUser reader = alice.on(http);
      try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
        List<Future<?>> readers = new ArrayList<>();
        for (int i = 0; i < READERS; i++) {
          readers.add(pool.submit(() -> {
            readAllMessages(reader, convo);
            readAllCommits(reader, convo);
            return null;
          }));
        }
        for (Future<?> f : readers) {
          f.get(5, TimeUnit.MINUTES);
        }
      }
      assertThat(http.get("/health/live", null).status()).isEqualTo(200);
      assertThat(node.isAlive()).isTrue();
    } finally {
      node.destroy();
      node.waitFor(30, TimeUnit.SECONDS);
    }
    assertThat(output).as("the node's log").noneMatch(l -> l.contains("OutOfMemoryError"));
  }

  static void readAllMessages(TestUser reader, String convo) {
    long since = 0;
    int seen = 0;
    while (true) {
      Http.Response r = reader.get("getMessages", "convoId", convo, "sinceSeq", Long.toString(since), "limit", "500");
      assertThat(r.status()).as(r.body().length() > 300 ? r.body().substring(0, 300) : r.body()).isEqualTo(200);
      JsonNode page = r.json();
      JsonNode messages = page.get("messages");
      assertThat(messages.size()).isBetween(1, 2); // 2 x 3 MiB fit the 8 MiB budget, a third does not
      for (JsonNode m : messages) {
        assertThat(m.get("seq").asLong()).isEqualTo(since + 1);
        since++;
        seen++;
      }
      assertThat(page.get("lastSeq").asLong()).isEqualTo(since);
      if (!page.get("hasMore").asBoolean()) {
        break;
      }
    }
    assertThat(seen).isEqualTo(2 * PAIRS);
  }

  static void readAllCommits(TestUser reader, String convo) {
    long from = 1; // getCommits labels a commit with the epoch it creates: the first one creates epoch 1

    int seen = 0;
    while (true) {
      Http.Response r = reader.get("getCommits", "convoId", convo, "fromEpoch", Long.toString(from));
      assertThat(r.status()).isEqualTo(200);
      JsonNode page = r.json();
      JsonNode commits = page.get("commits");
      assertThat(commits.size()).isBetween(1, 2);
      for (JsonNode c : commits) {
        assertThat(c.get("epoch").asLong()).isEqualTo(from);
        from++;
        seen++;
      }
      if (!page.get("hasMore").asBoolean()) {
        break;
      }
    }
    assertThat(seen).isEqualTo(PAIRS);
  }

  static void send(TestUser u, String convo, byte[] message) {
    Http.Response r = u.post("sendMessage", Map.of("convoId", convo, "ciphertext", bytes(message)));
    assertThat(r.status()).as(r.body()).isEqualTo(200);
  }

  /** A PrivateMessage whose ciphertext is {@code SIZE} bytes (the server reads the header only). */
  static byte[] bigPrivateMessage(byte[] groupId, long epoch, ContentType type) {
    return new MlsWriter(SIZE + 64).u16(KeyPackage.MLS10).u16(WireFormat.MLS_PRIVATE_MESSAGE.value())
        .opaque(groupId).u64(epoch).u8(type.value()).opaque(new byte[0]).opaque(new byte[16])
        .opaque(new byte[SIZE]).toByteArray();
  }

  /** {@code pageMaxBytes} (null: the default) lets a manual run show the OutOfMemoryError without the budget. */
  static Process startNode(String url, String pageMaxBytes) throws java.io.IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java, HEAP, "-cp", System.getProperty("java.class.path"),
        Node.class.getName(), url));
    if (pageMaxBytes != null) {
      command.add(pageMaxBytes);
    }
    return new ProcessBuilder(command).redirectErrorStream(true).start();
  }

  /** The node under test, in the child JVM: default limits (8 MiB per page), 16 MiB of response memory. */
  public static final class Node {
    public static void main(String[] args) {
      StorageLimits d = StorageLimits.defaults();
      long pageMaxBytes = args.length > 1 ? Long.parseLong(args[1]) : d.pageMaxBytes();
      StorageLimits storage = new StorageLimits(pageMaxBytes, d.devicesPerDid(), d.userMaxStoredBytes(),
          d.userMaxStoredMessages(), d.userMaxOpenConvos(), d.storedBytesPerMinute(), d.messageRetention(),
          d.finishedRetention(), RESPONSE_MEMORY, d.streamCursorsPerDid());
      Server server = Wiring.build(TestServers.config(args[0]).withStorage(storage), Clock.systemUTC()).start();
      System.out.println("PORT " + server.port());
      System.out.flush();
    }
  }
}
