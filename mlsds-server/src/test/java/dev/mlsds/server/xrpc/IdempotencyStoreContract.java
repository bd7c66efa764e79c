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
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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

  @Test
  void concurrentCallsWithOneKeyRunExactlyOnce() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    int threads = 16;
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Object>> results = new ArrayList<>();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < threads; i++) {
        results.add(pool.submit(() -> {
          go.await();
          try {
            return store.run(ALICE, "m", "race", () -> {
              runs.incrementAndGet();
              Thread.sleep(50);
              return new Idempotency.Result(200, "{\"winner\":true}");
            });
          } catch (XrpcException e) {
            return e.error();
          }
        }));
      }
      go.countDown();
      for (Future<Object> f : results) {
        Object r = f.get();
        assertThat(r).isIn(new Idempotency.Result(200, "{\"winner\":true}"), XrpcError.IdempotencyConflict);
      }
    }
    assertThat(runs).hasValue(1);
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
