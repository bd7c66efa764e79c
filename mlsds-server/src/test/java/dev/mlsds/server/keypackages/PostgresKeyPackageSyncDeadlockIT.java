package dev.mlsds.server.keypackages;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A sync racing an addMembers-shaped transaction (conversation row first, then a KeyPackage row) on
 * PostgreSQL. Since L6 of the 2026-12 security review the sync takes the same order (the conversation
 * rows of the open Welcomes first), so it waits for the add without holding any KeyPackage row, and
 * completes with the right result after it; a deadlock would still be retried.
 */
class PostgresKeyPackageSyncDeadlockIT {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final Did ALICE = new Did("did:plc:alice");
  TestDatabases.Postgres pg;
  Database db;
  KeyPackageService service;

  @BeforeEach
  void open() {
    pg = TestDatabases.postgres();
    db = Database.open(pg.url(), null);
    db.migrate();
    KeyPackageMetrics metrics = new KeyPackageMetrics(new SimpleMeterRegistry());
    service = new KeyPackageService(db, new KeyPackageStore(db.dialect(), metrics), new WelcomeStore(),
        new ConvoEventLog(db.dialect()), new KeyPackageTesting.RecordingNotifier(),
        KeyPackageTesting.limits(200, 10, 3000, 100), Clock.systemUTC(), metrics);
  }

  @AfterEach
  void close() {
    db.close();
    pg.close();
  }

  @Test
  void aSyncChosenAsDeadlockVictimIsRetried() throws Exception {
    SigningKey device = SigningKey.generate(SUITE);
    byte[] used = TestKeyPackages.builder(SUITE, ALICE.value()).signingKey(device).build();
    byte[] wanted = TestKeyPackages.builder(SUITE, ALICE.value()).signingKey(device).build();
    service.publish(ALICE, List.of(new PublishKeyPackages.Item(used, false), new PublishKeyPackages.Item(wanted, false)));
    String usedRef = ref(used);
    String wantedRef = ref(wanted);
    String deviceId = KeyPackage.decode(used).deviceId();
    db.withHandle(h -> {
      h.execute("INSERT INTO convos (id, creator_did, cipher_suite, epoch, created_at) VALUES ('cc01', 'did:plc:bob', 1, 1, 0)");
      h.execute("UPDATE key_packages SET state = 'used', convo_id = 'cc01' WHERE ref = ?", usedRef);
      h.execute("INSERT INTO welcome_blobs (id, convo_id, data, created_at) VALUES ('b1', 'cc01', ?, 0)", new byte[] {1});
      return h.execute("""
          INSERT INTO welcomes (convo_id, key_package_ref, did, device_id, blob_id, state, created_at)
          VALUES ('cc01', ?, ?, ?, 'b1', 'pending', 0)""", usedRef, ALICE.value(), deviceId);
    });

    CountDownLatch convoLocked = new CountDownLatch(1);
    CountDownLatch syncWaiting = new CountDownLatch(1);
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      // addMembers' order: the conversation row, then the KeyPackage its Welcome names.
      Future<Boolean> adder = pool.submit(() -> db.inTransaction((Handle h) -> {
        h.createQuery("SELECT id FROM convos WHERE id = 'cc01' FOR UPDATE").mapTo(String.class).one();
        convoLocked.countDown();
        syncWaiting.await();
        return h.createQuery("SELECT ref FROM key_packages WHERE ref = :r FOR UPDATE").bind("r", wantedRef)
            .mapTo(String.class).findFirst().isPresent();
      }));
      convoLocked.await();
      Future<SyncKeyPackages.Output> sync = pool.submit(() ->
          service.sync(ALICE, new SyncKeyPackages.Input(new DeviceId(deviceId), Set.of())));
      Thread.sleep(300); // the sync now holds the KeyPackage rows and waits for the conversation row
      syncWaiting.countDown();
      adder.get();
      assertThat(sync.get()).isEqualTo(new SyncKeyPackages.Output(0, 2, 1));
    }
    int left = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM key_packages").mapTo(Integer.class).one());
    String welcome = db.withHandle(h -> h.createQuery("SELECT state FROM welcomes").mapTo(String.class).one());
    List<String> events = db.withHandle(h -> h.createQuery("SELECT type FROM convo_events").mapTo(String.class).list());
    assertThat(left).isZero();
    assertThat(welcome).isEqualTo("unusable");
    assertThat(events).containsExactly("readdRequestedEvent");
  }

  @Test
  @DisplayName("L6: a sync waiting for a conversation row holds no KeyPackage row lock")
  void aSyncLocksConversationsBeforeKeyPackages() throws Exception {
    SigningKey device = SigningKey.generate(SUITE);
    byte[] used = TestKeyPackages.builder(SUITE, ALICE.value()).signingKey(device).build();
    byte[] other = TestKeyPackages.builder(SUITE, ALICE.value()).signingKey(device).build();
    service.publish(ALICE, List.of(new PublishKeyPackages.Item(used, false), new PublishKeyPackages.Item(other, false)));
    String deviceId = KeyPackage.decode(used).deviceId();
    db.withHandle(h -> {
      h.execute("INSERT INTO convos (id, creator_did, cipher_suite, epoch, created_at) VALUES ('cc02', 'did:plc:bob', 1, 1, 0)");
      h.execute("UPDATE key_packages SET state = 'used', convo_id = 'cc02' WHERE ref = ?", ref(used));
      h.execute("INSERT INTO welcome_blobs (id, convo_id, data, created_at) VALUES ('b2', 'cc02', ?, 0)", new byte[] {1});
      return h.execute("""
          INSERT INTO welcomes (convo_id, key_package_ref, did, device_id, blob_id, state, created_at)
          VALUES ('cc02', ?, ?, ?, 'b2', 'pending', 0)""", ref(used), ALICE.value(), deviceId);
    });
    try (Handle adder = db.jdbi().open(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      adder.begin();
      adder.createQuery("SELECT id FROM convos WHERE id = 'cc02' FOR UPDATE").mapTo(String.class).one();
      Future<SyncKeyPackages.Output> sync = pool.submit(() ->
          service.sync(ALICE, new SyncKeyPackages.Input(new DeviceId(deviceId), Set.of())));
      // Until the sync waits on a lock (the conversation row the adder holds).
      while (db.withHandle(h -> h.createQuery("""
          SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'""")
          .mapTo(Integer.class).one()) == 0) {
        Thread.sleep(20);
      }
      int free = db.withHandle(h -> h.inTransaction(t -> t.createQuery(
          "SELECT COUNT(*) FROM (SELECT ref FROM key_packages WHERE did = :d FOR UPDATE NOWAIT) k")
          .bind("d", ALICE.value()).mapTo(Integer.class).one()));
      assertThat(free).isEqualTo(2);
      adder.commit();
      assertThat(sync.get()).isEqualTo(new SyncKeyPackages.Output(0, 2, 1));
    }
  }

  static String ref(byte[] kp) {
    return HexFormat.of().formatHex(KeyPackage.decode(kp).ref());
  }
}
