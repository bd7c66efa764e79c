package dev.mlsds.server.ops;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Main;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code mlsds backup} on SQLite: copies taken while two writers keep sending are each a consistent
 * database — a node started on the copy serves every conversation with a gap-free message log, and the
 * next message it accepts continues that log — and the command refuses what it cannot do, writing nothing.
 */
class BackupTest {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

  @Test
  void backupsTakenUnderConcurrentWritesRestoreToConsistentServingDatabases(@TempDir Path dir) throws Exception {
    String url = TestDatabases.sqlite();
    Server server = TestServers.start(url);
    TestUser alice = TestUser.on(server);
    TestUser bob = TestUser.on(server);
    byte[] ga = newGroupId();
    byte[] gb = newGroupId();
    ok(alice.post("createConvo", Map.of("groupId", hex(ga), "cipherSuite", SUITE.name())));
    ok(bob.post("createConvo", Map.of("groupId", hex(gb), "cipherSuite", SUITE.name())));

    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger sent = new AtomicInteger();
    List<Path> backups = new ArrayList<>();
    ExecutorService writers = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> running = new ArrayList<>();
      for (var pair : List.of(Map.entry(alice, ga), Map.entry(bob, gb))) {
        running.add(writers.submit(() -> {
          while (!stop.get()) {
            ok(send(pair.getKey(), pair.getValue()));
            sent.incrementAndGet();
          }
          return null;
        }));
      }
      while (sent.get() < 20) {
        Thread.sleep(10);
      }
      for (int i = 0; i < 3; i++) {
        Path target = dir.resolve("backup-" + i + ".db");
        Backup.Result r = Backup.sqlite(url, target);
        assertThat(r.target()).isEqualTo(target.toAbsolutePath());
        assertThat(r.bytes()).isEqualTo(Files.size(target));
        assertThat(r.schemaVersion()).isNotEqualTo("none");
        backups.add(target);
        assertThat(running).as("the writers were still writing during backup " + i).noneMatch(Future::isDone);
      }
      stop.set(true);
      for (Future<?> f : running) {
        f.get();
      }
    } finally {
      stop.set(true);
      writers.shutdownNow();
      server.stop();
    }
    assertThat(dir).isDirectoryNotContaining("glob:**.partial-*");

    for (Path backup : backups) {
      Server restored = TestServers.start("jdbc:sqlite:" + backup);
      try {
        Http http = new Http(restored.port());
        for (var pair : List.of(Map.entry(alice.on(http), ga), Map.entry(bob.on(http), gb))) {
          TestUser u = pair.getKey();
          String convo = hex(pair.getValue());
          JsonNode convos = ok(u.get("getConvos")).json().get("conversations");
          assertThat(convos).extracting(c -> c.get("id").asText()).containsExactly(convo);
          long last = readGapFree(u, convo);
          assertThat(last).as(backup.getFileName() + " " + convo).isPositive();
          JsonNode next = ok(send(u, pair.getValue())).json();
          assertThat(next.get("seq").asLong()).as("the restored log continues where the copy ends").isEqualTo(last + 1);
        }
      } finally {
        restored.stop();
      }
    }
  }

  @Test
  void theCommandCopiesAndRefusesAnExistingTargetAPostgresUrlAndAMissingDatabase(@TempDir Path dir) throws Exception {
    String url = TestDatabases.sqlite();
    TestServers.start(url).stop();
    Path target = dir.resolve("copy.db");
    Run ok = run("backup", "--database-url", url, target.toString());
    assertThat(ok.exit()).as(ok.err()).isZero();
    assertThat(ok.out()).startsWith("backed up to " + target.toAbsolutePath()).hasLineCount(1);
    long size = Files.size(target);

    Run again = run("backup", "--database-url", url, target.toString());
    assertThat(again.exit()).isEqualTo(2);
    assertThat(again.err()).contains("exists");
    assertThat(Files.size(target)).isEqualTo(size);

    Run pg = run("backup", "--database-url", "jdbc:postgresql://127.0.0.1:5432/x", dir.resolve("pg.db").toString());
    assertThat(pg.exit()).isEqualTo(2);
    assertThat(pg.err()).contains("pg_dump");

    Path missing = dir.resolve("nothing-here.db");
    Run none = run("backup", "--database-url", "jdbc:sqlite:" + missing, dir.resolve("none.db").toString());
    assertThat(none.exit()).isEqualTo(2);
    assertThat(none.err()).contains("no database");
    assertThat(missing).doesNotExist();
    assertThat(dir.resolve("pg.db")).doesNotExist();
    assertThat(dir.resolve("none.db")).doesNotExist();
    assertThatThrownBy(() -> Backup.sqlite(url, dir.resolve("no-such-folder/x.db")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no folder");
  }

  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
        .execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  /** Pages through the whole log and returns the last seq; every seq from 1 on is there, once. */
  static long readGapFree(TestUser u, String convo) {
    long since = 0;
    while (true) {
      JsonNode page = ok(u.get("getMessages", "convoId", convo, "sinceSeq", Long.toString(since), "limit", "500")).json();
      for (JsonNode m : page.get("messages")) {
        assertThat(m.get("seq").asLong()).as("seq after " + since).isEqualTo(since + 1);
        since++;
      }
      if (!page.get("hasMore").asBoolean()) {
        return since;
      }
    }
  }

  static Http.Response send(TestUser u, byte[] groupId) {
    return u.post("sendMessage", Map.of("convoId", hex(groupId),
        "ciphertext", bytes(TestMessages.privateMessage(groupId, 0, ContentType.APPLICATION))));
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  static byte[] newGroupId() {
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    return g;
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}
