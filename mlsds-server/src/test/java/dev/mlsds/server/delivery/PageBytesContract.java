package dev.mlsds.server.delivery;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.server.Server;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * H1 on the 2025 client's paging of getMessages (limit of at most 100, no sinceSeq: the newest page,
 * newest first, cursor {@code older:<id>}; and {@code sinceMessage} = an id, the messages after it): its
 * pages are cut by {@code MLSDS_PAGE_MAX_BYTES} like the sinceSeq paging, with {@code hasMore} and the
 * cursor honest about the cut, so following the cursor still reaches every message exactly once.
 * Run on every backend.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class PageBytesContract {
  /** The smallest page budget the configuration accepts. */
  static final long PAGE = 64 * 1024;
  /** Two of these fit a page, a third does not. */
  static final int SIZE = 30 * 1024;
  Server server;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeAll
  void start() {
    StorageLimits d = StorageLimits.defaults();
    StorageLimits limits = new StorageLimits(PAGE, d.devicesPerDid(), d.userMaxStoredBytes(), d.userMaxStoredMessages(),
        d.userMaxOpenConvos(), d.storedBytesPerMinute(), d.messageRetention(), d.finishedRetention(),
        d.responseMemoryBytes(), d.streamCursorsPerDid());
    server = TestServers.start(newDatabaseUrl(), c -> c.withStorage(limits), Clock.systemUTC());
  }

  @AfterAll
  void stop() {
    server.stop();
    dropDatabase();
  }

  @Test
  @DisplayName("H1: the seed paging's newest-first pages are cut by bytes; the older: cursor reaches every message once")
  void newestFirstPagesAreCutByBytes() {
    TestUser alice = TestUser.on(server);
    byte[] g = newConvo(alice);
    // Seven messages of 30 KiB, one of 100 KiB (larger than a whole page: it comes alone), two more.
    int[] sizes = {SIZE, SIZE, SIZE, SIZE, SIZE, SIZE, SIZE, 100 * 1024, SIZE, SIZE};
    List<String> sent = new ArrayList<>();
    Map<String, Integer> sizeOf = new HashMap<>();
    for (int i = 0; i < sizes.length; i++) {
      String id = send(alice, g, sizes[i]);
      sent.add(id);
      sizeOf.put(id, sizes[i]);
    }
    List<String> shown = new ArrayList<>();
    JsonNode page = ok(alice.get("getMessages", "convoId", hex(g), "limit", "50"));
    for (int pages = 0; ; pages++) {
      assertThat(pages).as("pages").isLessThan(sizes.length + 1);
      JsonNode messages = page.get("messages");
      assertThat(messages.size()).as("a page of at most two 30 KiB messages").isBetween(1, 2);
      long bytes = 0;
      long previousSeq = Long.MAX_VALUE;
      for (JsonNode m : messages) {
        String id = m.get("id").asText();
        shown.add(id);
        bytes += sizeOf.get(id);
        assertThat(m.get("seq").asLong()).as("newest first").isLessThan(previousSeq);
        previousSeq = m.get("seq").asLong();
      }
      assertThat(bytes <= PAGE || messages.size() == 1).as("within the byte budget, or one message alone").isTrue();
      boolean more = page.get("hasMore").asBoolean();
      assertThat(page.has("cursor")).as("a cursor exactly when older messages remain").isEqualTo(more);
      if (!more) {
        break;
      }
      String cursor = page.get("cursor").asText();
      assertThat(cursor).isEqualTo(DeliveryService.OLDER + messages.get(messages.size() - 1).get("id").asText());
      page = ok(alice.get("getMessages", "convoId", hex(g), "limit", "50", "sinceMessage", cursor));
    }
    List<String> newestFirst = new ArrayList<>(sent);
    java.util.Collections.reverse(newestFirst);
    assertThat(shown).as("every message once, newest first").containsExactlyElementsOf(newestFirst);
  }

  @Test
  @DisplayName("H1: the seed paging's sinceMessage (after that message) pages are cut by bytes and reach every message")
  void afterMessagePagesAreCutByBytes() {
    TestUser alice = TestUser.on(server);
    byte[] g = newConvo(alice);
    List<String> sent = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      sent.add(send(alice, g, SIZE));
    }
    List<String> shown = new ArrayList<>();
    String since = sent.get(0);
    for (int pages = 0; ; pages++) {
      assertThat(pages).isLessThan(8);
      JsonNode page = ok(alice.get("getMessages", "convoId", hex(g), "limit", "50", "sinceMessage", since));
      JsonNode messages = page.get("messages");
      assertThat(messages.size()).isBetween(1, 2);
      messages.forEach(m -> shown.add(m.get("id").asText()));
      if (!page.get("hasMore").asBoolean()) {
        assertThat(page.has("cursor")).isFalse();
        break;
      }
      since = page.get("cursor").asText();
      assertThat(since).isEqualTo(messages.get(messages.size() - 1).get("id").asText());
    }
    assertThat(shown).containsExactlyElementsOf(sent.subList(1, sent.size()));
  }

  static JsonNode ok(Http.Response r) {
    assertThat(r.status()).as(r.body().length() > 300 ? r.body().substring(0, 300) : r.body()).isEqualTo(200);
    return r.json();
  }

  static byte[] newConvo(TestUser u) {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    ok(u.post("createConvo", Map.of("groupId", hex(g), "cipherSuite", "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519")));
    return g;
  }

  static String send(TestUser u, byte[] g, int size) {
    return ok(u.post("sendMessage", Map.of("convoId", hex(g), "ciphertext", bytes(privateMessage(g, size)))))
        .get("messageId").asText();
  }

  /** An application PrivateMessage of epoch 0 whose stored form is {@code size} bytes. */
  static byte[] privateMessage(byte[] g, int size) {
    int header = new MlsWriter(64).u16(KeyPackage.MLS10).u16(WireFormat.MLS_PRIVATE_MESSAGE.value()).opaque(g).u64(0)
        .u8(ContentType.APPLICATION.value()).opaque(new byte[0]).opaque(new byte[16]).opaque(new byte[0])
        .toByteArray().length;
    int body = size - header;
    // the length prefix of the ciphertext grows with it: recompute until the total is exact
    for (int n = body; n > body - 8; n--) {
      byte[] m = new MlsWriter(size + 64).u16(KeyPackage.MLS10).u16(WireFormat.MLS_PRIVATE_MESSAGE.value()).opaque(g)
          .u64(0).u8(ContentType.APPLICATION.value()).opaque(new byte[0]).opaque(new byte[16]).opaque(new byte[n])
          .toByteArray();
      if (m.length == size) {
        return m;
      }
    }
    throw new AssertionError("no exact size " + size);
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}
