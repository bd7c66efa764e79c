package dev.mlsds.server.auth;

import dev.mlsds.server.testing.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.storage.Database;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The contract of {@link JtiStore}, run against every backend. */
abstract class JtiStoreContract {
  static final Did ALICE = new Did("did:plc:alice");
  static final Did BOB = new Did("did:plc:bob");
  final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T12:00:00Z"));
  Database db;
  JtiStore store;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeEach
  void open() {
    db = Database.open(newDatabaseUrl(), null);
    db.migrate();
    store = new JtiStore(db, clock);
  }

  @AfterEach
  void close() {
    db.close();
    dropDatabase();
  }

  long exp() {
    return clock.instant().getEpochSecond() + 60;
  }

  @Test
  void aJtiIsAcceptedOncePerIssuer() {
    assertThat(store.firstUse(ALICE, "j1", exp())).isTrue();
    assertThat(store.firstUse(ALICE, "j1", exp())).isFalse();
    assertThat(store.firstUse(BOB, "j1", exp())).isTrue();
    assertThat(store.firstUse(ALICE, "j2", exp())).isTrue();
  }

  @Test
  void aSecondStoreOnTheSameDatabaseSeesTheFirstUse() {
    JtiStore otherNode = new JtiStore(db, clock);
    assertThat(store.firstUse(ALICE, "j1", exp())).isTrue();
    assertThat(otherNode.firstUse(ALICE, "j1", exp())).isFalse();
  }

  @Test
  void rowsAreKeptWhileTheTokenCouldBeValidThenRecycledAndPurged() {
    long exp = exp();
    assertThat(store.firstUse(ALICE, "j1", exp)).isTrue();
    clock.advance(Duration.ofSeconds(60).plus(JtiStore.NODE_CLOCK_MARGIN)); // exactly keep_until: still kept
    assertThat(store.firstUse(ALICE, "j1", exp)).isFalse();
    assertThat(store.purgeExpired()).isZero();

    clock.advance(Duration.ofSeconds(1));
    assertThat(store.firstUse(ALICE, "j1", exp())).isTrue(); // a new token may reuse an old jti
    assertThat(store.firstUse(BOB, "old", clock.instant().getEpochSecond() - 120)).isTrue();
    assertThat(store.purgeExpired()).isEqualTo(1);
  }

  @Test
  void concurrentUsesOfOneJtiHaveExactlyOneWinner() throws Exception {
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Boolean>> results = new ArrayList<>();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 32; i++) {
        results.add(pool.submit(() -> {
          go.await();
          return store.firstUse(ALICE, "race", exp());
        }));
      }
      go.countDown();
      int winners = 0;
      for (Future<Boolean> f : results) {
        winners += f.get() ? 1 : 0;
      }
      assertThat(winners).isEqualTo(1);
    }
  }
}
