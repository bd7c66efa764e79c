package dev.mlsds.server.xrpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The contract of {@link IdempotencyStore}, run against every backend. */
abstract class IdempotencyStoreContract {
  static final Did ALICE = new Did("did:plc:alice");
  Database db;
  IdempotencyStore store;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeEach
  void open() {
    db = Database.open(newDatabaseUrl(), null);
    db.migrate();
    store = new IdempotencyStore(db, Clock.systemUTC());
  }

  @AfterEach
  void close() {
    db.close();
    dropDatabase();
  }

  @Test
  void secondCallReturnsFirstResultWithoutRunning() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    var first = store.run(ALICE, "m", "k", () -> new Idempotency.Result(200, "{\"n\":" + runs.incrementAndGet() + "}"));
    var second = store.run(ALICE, "m", "k", () -> new Idempotency.Result(200, "{\"n\":" + runs.incrementAndGet() + "}"));
    assertThat(second).isEqualTo(first);
    assertThat(runs).hasValue(1);
  }

  @Test
  void keysAreScopedPerCallerAndMethod() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    Idempotency.Call call = () -> new Idempotency.Result(200, "{\"n\":" + runs.incrementAndGet() + "}");
    store.run(ALICE, "m", "k", call);
    store.run(new Did("did:plc:bob"), "m", "k", call);
    store.run(ALICE, "other", "k", call);
    assertThat(runs).hasValue(3);
  }

  @Test
  void clientErrorsAreRememberedButServerErrorsReleaseTheKey() throws Exception {
    assertThatThrownBy(() -> store.run(ALICE, "m", "k4", () -> {
      throw new XrpcException(XrpcError.Unavailable, "db down");
    })).isInstanceOf(XrpcException.class);
    var retried = store.run(ALICE, "m", "k4", () -> new Idempotency.Result(200, "{}"));
    assertThat(retried.status()).isEqualTo(200);

    var rejected = store.run(ALICE, "m", "k5", () -> {
      throw new XrpcException(XrpcError.ConvoExists, "exists");
    });
    assertThat(rejected.status()).isEqualTo(409);
    var replay = store.run(ALICE, "m", "k5", () -> new Idempotency.Result(200, "{}"));
    assertThat(replay).isEqualTo(rejected);
  }

  /** The work a test call does: one committed row in {@code auth_jti} under a test issuer. */
  private Idempotency.Result work(String tag) {
    String jti = java.util.UUID.randomUUID().toString();
    db.inTransaction(h -> h.createUpdate("INSERT INTO auth_jti (issuer, jti, keep_until) VALUES ('test:" + tag
        + "', :jti, 0)").bind("jti", jti).execute());
    return new Idempotency.Result(200, "{\"jti\":\"" + jti + "\"}");
  }

  private int workDone(String tag) {
    return db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM auth_jti WHERE issuer = 'test:" + tag + "'")
        .mapTo(Integer.class).one());
  }

  @Test
  void concurrentCallsWithOneKeyDoTheWorkExactlyOnce() throws Exception {
    int threads = 16;
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Object>> results = new ArrayList<>();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < threads; i++) {
        results.add(pool.submit(() -> {
          go.await();
          try {
            return store.run(ALICE, "m", "race", () -> work("race"));
          } catch (XrpcException e) {
            return e.error();
          }
        }));
      }
      go.countDown();
      Set<Object> answers = new HashSet<>();
      for (Future<Object> f : results) {
        answers.add(f.get());
      }
      answers.remove(XrpcError.IdempotencyConflict);
      assertThat(answers).as("one result for every repeat").hasSize(1);
    }
    assertThat(workDone("race")).isEqualTo(1);
  }

  @Test
  @DisplayName("M1: a database error or crash before the work commits leaves no record, so the retry does the work")
  void failureBeforeCommitLeavesTheKeyFree() throws Exception {
    assertThatThrownBy(() -> store.run(ALICE, "m", "crash-1", () -> {
      db.inTransaction(h -> {
        h.createUpdate("INSERT INTO auth_jti (issuer, jti, keep_until) VALUES ('test:crash-1', 'x', 0)").execute();
        throw new IllegalStateException("connection lost before commit");
      });
      return new Idempotency.Result(200, "{}");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(workDone("crash-1")).isZero();
    var retried = store.run(ALICE, "m", "crash-1", () -> work("crash-1"));
    assertThat(retried.status()).isEqualTo(200);
    assertThat(workDone("crash-1")).isEqualTo(1);
    assertThat(store.run(ALICE, "m", "crash-1", () -> work("crash-1"))).isEqualTo(retried);
    assertThat(workDone("crash-1")).isEqualTo(1);
  }

  @Test
  @DisplayName("M1: when the node dies after the work commits but before the reply is stored, a retry is told so and never does the work twice")
  void deathAfterCommitNeverRepeatsTheWork() throws Exception {
    assertThatThrownBy(() -> store.run(ALICE, "m", "crash-2", () -> {
      work("crash-2");
      throw new OutOfMemoryError("the node dies here");
    })).isInstanceOf(OutOfMemoryError.class);
    assertThatThrownBy(() -> store.run(ALICE, "m", "crash-2", () -> work("crash-2")))
        .isInstanceOfSatisfying(XrpcException.class, e -> {
          assertThat(e.error()).isEqualTo(XrpcError.IdempotencyConflict);
          assertThat(e.getMessage()).contains("has done its work");
        });
    assertThat(workDone("crash-2")).isEqualTo(1);
  }

  /** A reply as the router writes it: the handler's return value serialized. */
  record Sent(String messageId, long seq) {}

  @Test
  @DisplayName("Kill suite: when the work's transaction carries its reply (inTransactionReplying), a node dying right after the COMMIT leaves the reply recorded, and the retry gets it (not 409) without redoing the work")
  void deathAfterAReplyingCommitReturnsTheCommittedReply() throws Exception {
    String[] reply = new String[1];
    assertThatThrownBy(() -> store.run(ALICE, "m", "crash-3", () -> {
      Sent out = db.inTransactionReplying(h -> {
        h.createUpdate("INSERT INTO auth_jti (issuer, jti, keep_until) VALUES ('test:crash-3', 'x', 0)").execute();
        return new Sent("m1", 7);
      });
      reply[0] = Json.write(out);
      throw new OutOfMemoryError("the node dies between the COMMIT and the reply");
    })).isInstanceOf(OutOfMemoryError.class);
    var retried = store.run(ALICE, "m", "crash-3", () -> work("crash-3"));
    assertThat(retried).isEqualTo(new Idempotency.Result(200, reply[0]));
    assertThat(reply[0]).isEqualTo("{\"messageId\":\"m1\",\"seq\":7}");
    assertThat(workDone("crash-3")).isEqualTo(1);
    // And without a crash the reply is the handler's, recorded once.
    var first = store.run(ALICE, "m", "crash-4", () -> {
      Sent out = db.inTransactionReplying(h -> new Sent("m2", 8));
      return new Idempotency.Result(200, Json.write(out));
    });
    assertThat(store.run(ALICE, "m", "crash-4", () -> work("crash-4"))).isEqualTo(first);
    assertThat(workDone("crash-4")).isZero();
  }

  @Test
  void purgeRemovesOnlyOldRecords() throws Exception {
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    var old = new IdempotencyStore(db, Clock.fixed(t0, ZoneOffset.UTC));
    old.run(ALICE, "m", "old", () -> new Idempotency.Result(200, "{}"));
    var now = new IdempotencyStore(db, Clock.fixed(t0.plus(Duration.ofHours(25)), ZoneOffset.UTC));
    now.run(ALICE, "m", "new", () -> new Idempotency.Result(200, "{}"));
    assertThat(now.purgeOlderThan(Duration.ofHours(24))).isEqualTo(1);
    AtomicInteger runs = new AtomicInteger();
    now.run(ALICE, "m", "new", () -> new Idempotency.Result(200, "{\"r\":" + runs.incrementAndGet() + "}"));
    assertThat(runs).hasValue(0);
  }
}
