package dev.mlsds.server.keypackages;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link KeyPackageStore}, run against every backend: the state machine, leases, expiry,
 * last-resort rules, scoping by (DID, device), and that a one-time KeyPackage is handed out exactly once
 * under real concurrency from two connection pools (two nodes).
 */
abstract class KeyPackageStoreContract {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final CipherSuite P256 = CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
  static final Did ALICE = new Did("did:plc:alice");
  static final Did MALLORY = new Did("did:plc:mallory");
  static final Did BOB = new Did("did:plc:bob");
  static final Did CAROL = new Did("did:plc:carol");
  static final long T0 = 1_800_000_000_000L;
  static final long DAY = 86_400_000L;
  static final long LEASE = 600_000L;
  private static final SecureRandom RANDOM = new SecureRandom();

  Database db;
  KeyPackageStore store;
  String url;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeEach
  void open() {
    url = newDatabaseUrl();
    db = Database.open(url, null);
    db.migrate();
    store = new KeyPackageStore(db.dialect(), new KeyPackageMetrics(new SimpleMeterRegistry()));
  }

  @AfterEach
  void close() {
    db.close();
    dropDatabase();
  }

  static DeviceId device() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return new DeviceId(HexFormat.of().formatHex(b));
  }

  static String ref() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** Inserts a KeyPackage created at {@code createdAt}, valid until {@code notAfter}; returns its ref. */
  String insert(Did did, DeviceId device, CipherSuite suite, boolean lastResort, long createdAt, long notAfter) {
    String ref = ref();
    db.inTransaction(h -> {
      store.insert(h, new KeyPackageStore.NewKeyPackage(ref, did, device, suite, ref.getBytes(), lastResort, notAfter),
          createdAt);
      return null;
    });
    return ref;
  }

  String oneTime(Did did, DeviceId device, long createdAt) {
    return insert(did, device, SUITE, false, createdAt, T0 + 30 * DAY);
  }

  String lastResort(Did did, DeviceId device, long createdAt) {
    return insert(did, device, SUITE, true, createdAt, T0 + 30 * DAY);
  }

  Claim claim(Did did, DeviceId device, Did claimer, long now) {
    return claim(db, did, device, claimer, now);
  }

  Claim claim(Database on, Did did, DeviceId device, Did claimer, long now) {
    return on.inTransaction(h -> store.claim(h, did, device, SUITE, claimer, now, now + LEASE));
  }

  static String refOf(Claim c) {
    return switch (c) {
      case Claim.OneTime o -> o.keyPackage().ref();
      case Claim.LastResort l -> l.keyPackage().ref();
      case Claim.Nothing n -> null;
    };
  }

  StoredKeyPackage find(String ref) {
    return db.inTransaction(h -> store.find(h, ref)).orElseThrow();
  }

  <T> T tx(org.jdbi.v3.core.HandleCallback<T, RuntimeException> work) {
    return db.inTransaction(work);
  }

  boolean bool(org.jdbi.v3.core.HandleCallback<Boolean, RuntimeException> work) {
    return db.inTransaction(work);
  }

  int num(org.jdbi.v3.core.HandleCallback<Integer, RuntimeException> work) {
    return db.inTransaction(work);
  }

  <T> List<T> list(org.jdbi.v3.core.HandleCallback<List<T>, RuntimeException> work) {
    return db.inTransaction(work);
  }

  <T> Optional<T> opt(org.jdbi.v3.core.HandleCallback<Optional<T>, RuntimeException> work) {
    return db.inTransaction(work);
  }

  @Test
  void claimHandsOutTheOldestFirstAndReservesItForTheClaimerForTheLease() {
    DeviceId d = device();
    String second = oneTime(ALICE, d, T0 + 2);
    String first = oneTime(ALICE, d, T0 + 1);
    String third = oneTime(ALICE, d, T0 + 3);

    Claim c = claim(ALICE, d, BOB, T0 + 10);
    assertThat(c).isInstanceOf(Claim.OneTime.class);
    assertThat(refOf(c)).isEqualTo(first);
    assertThat(((Claim.OneTime) c).keyPackage().data()).isEqualTo(first.getBytes());
    StoredKeyPackage kp = find(first);
    assertThat(kp.state()).isEqualTo(KeyPackageState.RESERVED);
    assertThat(kp.reservedBy()).isEqualTo(BOB);
    assertThat(kp.reservedUntil().toEpochMilli()).isEqualTo(T0 + 10 + LEASE);

    assertThat(refOf(claim(ALICE, d, CAROL, T0 + 11))).isEqualTo(second);
    assertThat(refOf(claim(ALICE, d, BOB, T0 + 12))).isEqualTo(third);
    assertThat(claim(ALICE, d, BOB, T0 + 13)).isInstanceOf(Claim.Nothing.class);
  }

  @Test
  void aLapsedLeaseMakesTheKeyPackageAvailableAgain() {
    DeviceId d = device();
    String only = oneTime(ALICE, d, T0);
    assertThat(refOf(claim(ALICE, d, BOB, T0))).isEqualTo(only);
    assertThat(claim(ALICE, d, CAROL, T0 + LEASE - 1)).isInstanceOf(Claim.Nothing.class);
    assertThat(find(only).usableBy(BOB, T0 + LEASE - 1)).isTrue();
    assertThat(find(only).usableBy(CAROL, T0 + LEASE - 1)).isFalse();

    assertThat(num(h -> store.countAvailable(h, ALICE, d, SUITE, T0 + LEASE))).isEqualTo(1);
    assertThat(refOf(claim(ALICE, d, CAROL, T0 + LEASE))).isEqualTo(only);
    assertThat(find(only).reservedBy()).isEqualTo(CAROL);
    assertThat(find(only).usableBy(BOB, T0 + LEASE + 1)).isFalse();
  }

  @Test
  void expiredKeyPackagesAreNeverHandedOut() {
    DeviceId d = device();
    String kp = insert(ALICE, d, SUITE, false, T0, T0 + 1000);
    insert(ALICE, d, SUITE, true, T0, T0 + 1000);
    assertThat(list(h -> store.candidateDevices(h, ALICE, SUITE, T0 + 1000))).isEmpty();
    assertThat(claim(ALICE, d, BOB, T0 + 1000)).isInstanceOf(Claim.Nothing.class);
    assertThat(find(kp).usableBy(BOB, T0 + 1000)).isFalse();
    assertThat(refOf(claim(ALICE, d, BOB, T0 + 999))).isEqualTo(kp);
  }

  @Test
  void theLastResortKeyPackageIsServedOnlyWhenNoOtherIsLeftAndIsNeverReserved() {
    DeviceId d = device();
    String last = lastResort(ALICE, d, T0);
    String one = oneTime(ALICE, d, T0 + 1);

    assertThat(claim(ALICE, d, BOB, T0 + 5)).isInstanceOf(Claim.OneTime.class).extracting(KeyPackageStoreContract::refOf)
        .isEqualTo(one);
    Claim toCarol = claim(ALICE, d, CAROL, T0 + 6);
    Claim toBob = claim(ALICE, d, BOB, T0 + 7);
    assertThat(toCarol).isInstanceOf(Claim.LastResort.class);
    assertThat(toBob).isInstanceOf(Claim.LastResort.class);
    assertThat(refOf(toCarol)).isEqualTo(last).isEqualTo(refOf(toBob));
    StoredKeyPackage kp = find(last);
    assertThat(kp.state()).isEqualTo(KeyPackageState.AVAILABLE);
    assertThat(kp.reservedBy()).isNull();
    assertThat(kp.usableBy(BOB, T0 + 8)).isTrue();
    assertThat(kp.usableBy(CAROL, T0 + 8)).isTrue();
  }

  @Test
  void aRetiredLastResortKeyPackageIsNoLongerServedButStillFound() {
    DeviceId d = device();
    String old = lastResort(ALICE, d, T0);
    tx(h -> store.retireLastResort(h, ALICE, d, SUITE, T0 + 1));
    String newer = lastResort(ALICE, d, T0 + 1);
    assertThat(refOf(claim(ALICE, d, BOB, T0 + 2))).isEqualTo(newer);
    StoredKeyPackage retired = find(old);
    assertThat(retired.replaced()).isTrue();
    assertThat(retired.usableBy(BOB, T0 + 2)).isFalse();
    assertThat(bool(h -> store.markUsed(h, old, "c0ffee", T0 + 2))).isFalse();
  }

  @Test
  void atMostOneCurrentLastResortKeyPackagePerDeviceAndSuite() {
    DeviceId d = device();
    lastResort(ALICE, d, T0);
    insert(ALICE, d, P256, true, T0, T0 + DAY);
    lastResort(ALICE, device(), T0);
    lastResort(MALLORY, d, T0);
    assertThatThrownBy(() -> lastResort(ALICE, d, T0 + 1)).hasMessageContaining("key_packages");
  }

  @Test
  void theRefIsUnique() {
    DeviceId d = device();
    String ref = oneTime(ALICE, d, T0);
    assertThatThrownBy(() -> tx(h -> {
      store.insert(h, new KeyPackageStore.NewKeyPackage(ref, ALICE, d, SUITE, new byte[1], false, T0 + DAY), T0);
      return null;
    })).hasMessageContaining("key_packages");
    assertThat(bool(h -> store.exists(h, ref))).isTrue();
    assertThat(bool(h -> store.exists(h, ref()))).isFalse();
  }

  @Test
  void usedAndConsumedFollowTheStateMachine() {
    DeviceId d = device();
    String kp = oneTime(ALICE, d, T0);
    String never = oneTime(ALICE, d, T0 + 1);
    claim(ALICE, d, BOB, T0 + 2);

    assertThat(bool(h -> store.markConsumed(h, never, T0 + 3))).as("available cannot be consumed").isFalse();
    assertThat(bool(h -> store.markUsed(h, kp, "c0ffee", T0 + 3))).isTrue();
    StoredKeyPackage used = find(kp);
    assertThat(used.state()).isEqualTo(KeyPackageState.USED);
    assertThat(used.convoId()).isEqualTo("c0ffee");
    assertThat(used.reservedBy()).isNull();
    assertThat(used.usableBy(BOB, T0 + 3)).isFalse();
    assertThat(bool(h -> store.markUsed(h, kp, "beef", T0 + 4))).as("used only once").isFalse();
    assertThat(find(kp).convoId()).isEqualTo("c0ffee");

    assertThat(bool(h -> store.markConsumed(h, kp, T0 + 5))).isTrue();
    assertThat(find(kp).state()).isEqualTo(KeyPackageState.CONSUMED);
    assertThat(bool(h -> store.markConsumed(h, kp, T0 + 6))).isFalse();
    assertThat(bool(h -> store.markUsed(h, kp, "beef", T0 + 6))).isFalse();
    assertThat(opt(h -> store.find(h, ref()))).isEmpty();
    assertThat(bool(h -> store.markUsed(h, ref(), "beef", T0 + 6))).isFalse();
  }

  @Test
  void aLastResortKeyPackageStaysAvailableWhenAWelcomeUsesItAndItsDeviceFetchesIt() {
    DeviceId d = device();
    String last = lastResort(ALICE, d, T0);
    assertThat(bool(h -> store.markUsed(h, last, "c0ffee", T0 + 1))).isTrue();
    assertThat(bool(h -> store.markConsumed(h, last, T0 + 2))).isTrue();
    StoredKeyPackage kp = find(last);
    assertThat(kp.state()).isEqualTo(KeyPackageState.AVAILABLE);
    assertThat(refOf(claim(ALICE, d, BOB, T0 + 3))).isEqualTo(last);
  }

  @Test
  void deviceScopedReadsNeverSeeAnotherUsersRowsWithTheSameDeviceId() {
    DeviceId d = device();
    String mine = oneTime(ALICE, d, T0);
    String consumed = oneTime(ALICE, d, T0 + 1);
    String other = oneTime(MALLORY, d, T0);
    oneTime(ALICE, device(), T0);
    tx(h -> store.markUsed(h, consumed, "c0ffee", T0 + 2) && store.markConsumed(h, consumed, T0 + 3));

    assertThat(list(h -> store.unconsumedRefs(h, ALICE, d))).containsExactly(mine);
    assertThat(list(h -> store.unconsumedRefs(h, MALLORY, d))).containsExactly(other);
    assertThat(num(h -> store.countHeld(h, ALICE, d, T0 + 4))).isEqualTo(1);
    assertThat(claim(ALICE, d, BOB, T0 + 5)).extracting(KeyPackageStoreContract::refOf).isEqualTo(mine);
    assertThat(claim(ALICE, d, BOB, T0 + 6)).isInstanceOf(Claim.Nothing.class);
    assertThat(num(h -> store.delete(h, List.of(mine, ref())))).isEqualTo(1);
    assertThat(bool(h -> store.exists(h, other))).isTrue();
  }

  @Test
  void statusCountsPerDeviceAndSuite() {
    DeviceId d1 = device();
    DeviceId d2 = device();
    oneTime(ALICE, d1, T0);
    oneTime(ALICE, d1, T0 + 1);
    String c = insert(ALICE, d1, SUITE, false, T0 + 2, T0 + 5 * DAY);
    lastResort(ALICE, d1, T0);
    insert(ALICE, d2, P256, false, T0, T0 + 2 * DAY);
    insert(ALICE, d2, P256, false, T0, T0 + 10);
    oneTime(BOB, d1, T0);
    long now = T0 + 100;
    tx(h -> store.claim(h, ALICE, d1, SUITE, BOB, now, now + LEASE));
    tx(h -> store.markUsed(h, c, "c0ffee", now) && store.markConsumed(h, c, now));

    List<KeyPackageStore.DeviceStatus> all = tx(h -> store.status(h, ALICE, Optional.empty(), now));
    assertThat(all).hasSize(2);
    KeyPackageStore.DeviceStatus s1 = all.stream().filter(s -> s.deviceId().equals(d1)).findFirst().orElseThrow();
    assertThat(s1.cipherSuite()).isEqualTo(SUITE);
    assertThat(s1.available()).isEqualTo(1);
    assertThat(s1.reserved()).isEqualTo(1);
    assertThat(s1.lastResort()).isTrue();
    assertThat(s1.consumedLast24h()).isEqualTo(1);
    assertThat(s1.oldestExpiresAt().toEpochMilli()).isEqualTo(T0 + 30 * DAY);
    KeyPackageStore.DeviceStatus s2 = all.stream().filter(s -> s.deviceId().equals(d2)).findFirst().orElseThrow();
    assertThat(s2.cipherSuite()).isEqualTo(P256);
    assertThat(s2.available()).isEqualTo(1);
    assertThat(s2.lastResort()).isFalse();
    assertThat(s2.oldestExpiresAt().toEpochMilli()).isEqualTo(T0 + 2 * DAY);
    assertThat(list(h -> store.status(h, ALICE, Optional.of(P256), now))).extracting(KeyPackageStore.DeviceStatus::deviceId)
        .containsExactly(d2);
    assertThat(list(h -> store.status(h, ALICE, Optional.empty(), now + DAY + 1))).filteredOn(s -> s.deviceId().equals(d1))
        .singleElement().satisfies(s -> assertThat(s.consumedLast24h()).isZero());
  }

  @Test
  void maintenanceFindsExpiredAndOldUsedKeyPackagesAndReleasesLapsedLeases() {
    DeviceId d = device();
    String expired = insert(ALICE, d, SUITE, false, T0, T0 + 10);
    String expiredLast = insert(ALICE, d, SUITE, true, T0, T0 + 10);
    String live = oneTime(ALICE, d, T0);
    String usedRecently = insert(ALICE, d, SUITE, false, T0, T0 + 20);
    String usedLongAgo = insert(ALICE, d, SUITE, false, T0 - 1, T0 + 10);
    tx(h -> store.markUsed(h, usedRecently, "c0ffee", T0) && store.markUsed(h, usedLongAgo, "c0ffee", T0));

    long now = T0 + 100;
    List<String> purge = tx(h -> store.purgeable(h, now, T0 + 15, 100));
    assertThat(purge).containsExactlyInAnyOrder(expired, expiredLast, usedLongAgo);
    assertThat(list(h -> store.purgeable(h, now, T0 + 15, 2))).hasSize(2);

    assertThat(refOf(claim(ALICE, d, BOB, T0 + 50))).isEqualTo(live);
    assertThat(find(live).state()).isEqualTo(KeyPackageState.RESERVED);
    assertThat(num(h -> store.releaseLapsedLeases(h, T0 + 50 + LEASE - 1))).isZero();
    assertThat(num(h -> store.releaseLapsedLeases(h, T0 + 50 + LEASE))).isEqualTo(1);
    assertThat(find(live).state()).isEqualTo(KeyPackageState.AVAILABLE);
    assertThat(find(live).reservedBy()).isNull();
  }

  @Test
  void consumedKeyPackagesAreDeletedOnlyOnceOldAndExpired() {
    DeviceId d = device();
    String kp = insert(ALICE, d, SUITE, false, T0, T0 + 40 * DAY);
    tx(h -> store.markUsed(h, kp, "c0ffee", T0) && store.markConsumed(h, kp, T0));
    assertThat(num(h -> store.deleteConsumedBefore(h, T0 + 1, T0 + 31 * DAY))).isZero();
    assertThat(num(h -> store.deleteConsumedBefore(h, T0 + 1, T0 + 40 * DAY))).isEqualTo(1);
  }

  /**
   * 32 virtual threads over two pools (as two nodes would) claim from one device that has {@code N}
   * one-time KeyPackages and a last-resort one: every one-time KeyPackage is handed out exactly once and
   * every other claim gets the last-resort KeyPackage.
   */
  @Test
  void concurrentClaimsHandEachOneTimeKeyPackageOutExactlyOnce() throws Exception {
    int n = 20;
    int threads = 32;
    DeviceId d = device();
    List<String> refs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      refs.add(oneTime(ALICE, d, T0 + i));
    }
    String last = lastResort(ALICE, d, T0);
    ConcurrentLinkedQueue<String> oneTime = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> lastResort = new ConcurrentLinkedQueue<>();
    try (Database second = Database.open(url, null); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        Database on = t % 2 == 0 ? db : second;
        Did claimer = new Did("did:plc:claimer" + t);
        done.add(pool.submit(() -> {
          go.await();
          switch (claim(on, ALICE, d, claimer, T0 + 100)) {
            case Claim.OneTime o -> oneTime.add(o.keyPackage().ref());
            case Claim.LastResort l -> lastResort.add(l.keyPackage().ref());
            case Claim.Nothing x -> throw new AssertionError("nothing while the last resort exists");
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get();
      }
    }
    assertThat(oneTime).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(refs);
    assertThat(lastResort).hasSize(threads - n).containsOnly(last);
    for (String ref : refs) {
      assertThat(find(ref).state()).isEqualTo(KeyPackageState.RESERVED);
    }
  }

  /** Claims racing a Welcome that names a reserved KeyPackage: find locks the row, so it cannot be re-claimed under it. */
  @Test
  void aKeyPackageBeingUsedIsNotClaimedByAnotherConcurrently() throws Exception {
    DeviceId d = device();
    String kp = oneTime(ALICE, d, T0);
    claim(ALICE, d, BOB, T0);
    long afterLease = T0 + LEASE + 1;
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (var pool = Executors.newVirtualThreadPerTaskExecutor(); Database second = Database.open(url, null)) {
      Future<Boolean> adder = pool.submit(() -> db.inTransaction((Handle h) -> {
        StoredKeyPackage found = store.find(h, kp).orElseThrow();
        locked.countDown();
        release.await();
        return found.usableBy(BOB, afterLease) && store.markUsed(h, kp, "c0ffee", afterLease);
      }));
      locked.await();
      Future<Claim> other = pool.submit(() -> claim(second, ALICE, d, CAROL, afterLease));
      Thread.sleep(200);
      release.countDown();
      assertThat(adder.get()).isTrue();
      assertThat(other.get()).isInstanceOf(Claim.Nothing.class);
    }
    assertThat(find(kp).state()).isEqualTo(KeyPackageState.USED);
  }
}
