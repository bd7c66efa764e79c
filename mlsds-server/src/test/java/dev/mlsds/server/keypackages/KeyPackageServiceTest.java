package dev.mlsds.server.keypackages;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.testing.MutableClock;
import dev.mlsds.server.keypackages.KeyPackageTesting.RecordingNotifier;
import dev.mlsds.server.keypackages.PublishKeyPackages.Item;
import dev.mlsds.server.keypackages.PublishKeyPackages.Status;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link KeyPackageService} on a real SQLite file (no mocks of our stores): validation per item,
 * duplicates, the per-device limit, last-resort replacement, one KeyPackage per device, leases and expiry,
 * the low-inventory event, status, sync with Welcome invalidation and re-add requests, maintenance, and
 * the legacy single-item publish.
 */
class KeyPackageServiceTest {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final CipherSuite P256 = CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
  static final Did ALICE = new Did("did:plc:alice");
  static final Did BOB = new Did("did:plc:bob");
  static final Did CAROL = new Did("did:plc:carol");

  final MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.MILLIS));
  final RecordingNotifier notifier = new RecordingNotifier();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  Database db;
  KeyPackageStore store;
  KeyPackageService service;

  @BeforeEach
  void open() {
    db = Database.open(TestDatabases.sqlite(), null);
    db.migrate();
    useLimits(KeyPackageTesting.limits(200, 10, 3000, 100));
  }

  void useLimits(Config.Limits limits) {
    KeyPackageMetrics metrics = new KeyPackageMetrics(registry);
    store = new KeyPackageStore(db.dialect(), metrics);
    service = new KeyPackageService(db, store, new WelcomeStore(), new ConvoEventLog(db.dialect()), notifier, limits,
        clock, metrics);
  }

  @AfterEach
  void close() {
    db.close();
  }

  // ---- helpers ---------------------------------------------------------------------------------------

  static SigningKey device() {
    return SigningKey.generate(SUITE);
  }

  TestKeyPackages.Builder builder(Did did, SigningKey key) {
    Instant now = clock.instant();
    return TestKeyPackages.builder(key.suite(), did.value()).signingKey(key)
        .lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(30)));
  }

  byte[] kp(Did did, SigningKey key) {
    return builder(did, key).build();
  }

  static String ref(byte[] kp) {
    return HexFormat.of().formatHex(KeyPackage.decode(kp).ref());
  }

  static String deviceId(SigningKey key) {
    return KeyPackage.decode(TestKeyPackages.builder(key.suite(), "did:plc:x").signingKey(key).build()).deviceId();
  }

  PublishKeyPackages.Output publish(Did did, byte[]... kps) {
    return service.publish(did, Arrays.stream(kps).map(k -> new Item(k, false)).toList());
  }

  GetKeyPackages.Output claim(Did caller, Did... dids) {
    return service.claim(caller, new GetKeyPackages.Params(List.of(dids), SUITE));
  }

  int rows(String where) {
    return db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM key_packages WHERE " + where).mapTo(Integer.class).one());
  }

  double counter(String name, String tag, String value) {
    return registry.get(name).tag(tag, value).counter().count();
  }

  // ---- publish ---------------------------------------------------------------------------------------

  @Test
  void eachItemIsValidatedOnItsOwnAndOneBadItemDoesNotRejectTheBatch() {
    SigningKey d = device();
    byte[] good = kp(ALICE, d);
    byte[] foreign = kp(BOB, d);
    byte[] bare = builder(ALICE, d).framed(false).build();

    PublishKeyPackages.Output out = publish(ALICE, good, foreign, bare);

    assertThat(out.results()).extracting(PublishKeyPackages.Result::status)
        .containsExactly(Status.PUBLISHED, Status.REJECTED, Status.PUBLISHED);
    PublishKeyPackages.Result ok = out.results().get(0);
    assertThat(ok.index()).isZero();
    assertThat(ok.keyPackageRef()).isEqualTo(ref(good));
    assertThat(ok.deviceId()).isEqualTo(deviceId(d));
    assertThat(ok.cipherSuite()).isEqualTo(SUITE.name());
    PublishKeyPackages.Result bad = out.results().get(1);
    assertThat(bad.index()).isEqualTo(1);
    assertThat(bad.error()).isEqualTo("InvalidKeyPackage");
    assertThat(bad.message()).startsWith("identity:").contains(BOB.value()).contains(ALICE.value());
    assertThat(out.available()).containsExactly(new PublishKeyPackages.Available(deviceId(d), SUITE.name(), 2));
    assertThat(rows("did = 'did:plc:alice'")).isEqualTo(2);

    // A bare upload is stored MLSMessage-framed, byte for byte as received after the 4-byte header.
    byte[] stored = db.withHandle(h -> h.createQuery("SELECT data FROM key_packages WHERE ref = :r")
        .bind("r", ref(bare)).mapTo(byte[].class).one());
    assertThat(Arrays.copyOfRange(stored, 0, 4)).containsExactly(0, 1, 0, 5);
    assertThat(Arrays.copyOfRange(stored, 4, stored.length)).isEqualTo(bare);
    assertThat(ref(stored)).isEqualTo(ref(bare));
    assertThat(counter("mlsds.keypackages.published", "outcome", "published")).isEqualTo(2);
    assertThat(counter("mlsds.keypackages.published", "outcome", "invalid")).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(strings = {"identity", "expired", "lifetime_too_long", "not_yet_valid", "leaf_node_source", "init_key",
      "credential_type", "size", "parse", "key_package_signature", "leaf_node_signature", "lifetime_invalid"})
  void everyValidationRuleRejectsWithAMessageNamingIt(String rule) {
    SigningKey d = device();
    Instant now = clock.instant();
    TestKeyPackages.Builder b = builder(ALICE, d);
    byte[] raw = switch (rule) {
      case "identity" -> builder(CAROL, d).build();
      case "expired" -> b.lifetime(now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1))).build();
      case "lifetime_too_long" -> b.lifetime(now, now.plus(Duration.ofDays(91))).build();
      case "not_yet_valid" -> b.lifetime(now.plus(Duration.ofDays(1)), now.plus(Duration.ofDays(2))).build();
      case "lifetime_invalid" -> b.lifetime(now.plus(Duration.ofDays(2)), now.plus(Duration.ofDays(1))).build();
      case "leaf_node_source" -> b.leafNodeSource(2).build();
      case "init_key" -> b.initKey(new byte[32]).encryptionKey(new byte[32]).build();
      case "credential_type" -> b.x509Credential().build();
      case "size" -> b.leafExtension(0xF0F0, new byte[70_000], true).build();
      case "parse" -> append(b.build(), (byte) 0);
      case "key_package_signature" -> flipLast(b.build());
      case "leaf_node_signature" -> flipLeafSignature(b, d);
      default -> throw new AssertionError(rule);
    };
    PublishKeyPackages.Result r = publish(ALICE, raw).results().get(0);
    assertThat(r.status()).isEqualTo(Status.REJECTED);
    assertThat(r.error()).isEqualTo("InvalidKeyPackage");
    assertThat(r.message()).startsWith(rule + ":");
    assertThat(rows("1 = 1")).isZero();
  }

  static byte[] append(byte[] b, byte extra) {
    byte[] out = Arrays.copyOf(b, b.length + 1);
    out[b.length] = extra;
    return out;
  }

  static byte[] flipLast(byte[] b) {
    byte[] out = b.clone();
    out[out.length - 1] ^= 1;
    return out;
  }

  /** A KeyPackage whose LeafNodeTBS signature is broken but whose KeyPackageTBS signature (over it) is valid. */
  static byte[] flipLeafSignature(TestKeyPackages.Builder b, SigningKey key) {
    KeyPackage kp = b.buildDecoded();
    byte[] sig = kp.leafNode().signature();
    byte[] bare = kp.bareBytes();
    int at = indexOf(bare, sig);
    bare[at] ^= 1;
    // Re-sign KeyPackageTBS so only the leaf signature is wrong.
    byte[] tbs = Arrays.copyOf(bare, kp.tbsLength());
    return new MlsWriter().bytes(tbs).opaque(key.signWithLabel("KeyPackageTBS", tbs)).toByteArray();
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }

  @Test
  void aKnownKeyPackageRefIsADuplicateNotAnError() {
    SigningKey d = device();
    byte[] k = kp(ALICE, d);
    assertThat(publish(ALICE, k, k).results()).extracting(PublishKeyPackages.Result::status)
        .containsExactly(Status.PUBLISHED, Status.DUPLICATE);
    PublishKeyPackages.Result again = publish(ALICE, k).results().get(0);
    assertThat(again.status()).isEqualTo(Status.DUPLICATE);
    assertThat(again.keyPackageRef()).isEqualTo(ref(k));
    assertThat(again.error()).isNull();
    assertThat(rows("1 = 1")).isEqualTo(1);
  }

  @Test
  void aDeviceHoldsAtMostTheConfiguredNumberOfUnusedKeyPackages() {
    useLimits(KeyPackageTesting.limits(3, 10, 3000, 100));
    SigningKey d = device();
    SigningKey other = device();
    List<byte[]> five = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      five.add(kp(ALICE, d));
    }
    PublishKeyPackages.Output out = publish(ALICE, five.toArray(byte[][]::new));
    assertThat(out.results()).extracting(PublishKeyPackages.Result::status)
        .containsExactly(Status.PUBLISHED, Status.PUBLISHED, Status.PUBLISHED, Status.REJECTED, Status.REJECTED);
    assertThat(out.results().get(3).error()).isEqualTo("KeyPackageLimitReached");
    assertThat(out.results().get(3).keyPackageRef()).isEqualTo(ref(five.get(3)));
    assertThat(out.available()).containsExactly(new PublishKeyPackages.Available(deviceId(d), SUITE.name(), 3));
    assertThat(rows("ref = '" + ref(five.get(3)) + "'")).isZero();

    // Other devices, and the device's last-resort KeyPackage, do not count.
    assertThat(publish(ALICE, kp(ALICE, other)).results().get(0).status()).isEqualTo(Status.PUBLISHED);
    assertThat(publish(ALICE, builder(ALICE, d).lastResort(true).build()).results().get(0).status())
        .isEqualTo(Status.PUBLISHED);
    // Reserved ones still count; once one is used by a Welcome, there is room again.
    claim(BOB, ALICE);
    assertThat(publish(ALICE, five.get(3)).results().get(0).error()).isEqualTo("KeyPackageLimitReached");
    db.inTransaction(h -> store.markUsed(h, ref(five.get(0)), "c0ffee", clock.millis()));
    assertThat(publish(ALICE, five.get(3)).results().get(0).status()).isEqualTo(Status.PUBLISHED);
    assertThat(counter("mlsds.keypackages.published", "outcome", "limit_reached")).isEqualTo(3);
  }

  @Test
  void aNewerLastResortUploadReplacesTheOlderOneOfThatDeviceAndSuite() {
    SigningKey d = device();
    SigningKey p256 = SigningKey.generate(P256);
    byte[] byExtension = builder(ALICE, d).lastResort(true).build();
    byte[] byFlag = kp(ALICE, d);
    byte[] otherSuite = builder(ALICE, p256).lastResort(true).build();
    PublishKeyPackages.Output first = service.publish(ALICE,
        List.of(new Item(byExtension, false), new Item(otherSuite, false)));
    // Both devices are reported, with nothing one-time available.
    assertThat(first.available()).extracting(PublishKeyPackages.Available::count).containsExactly(0, 0);
    assertThat(first.available()).extracting(PublishKeyPackages.Available::deviceId)
        .containsExactlyInAnyOrder(deviceId(d), deviceId(p256));
    assertThat(claim(BOB, ALICE).keyPackages()).singleElement()
        .satisfies(k -> assertThat(k.keyPackageRef()).isEqualTo(ref(byExtension)))
        .satisfies(k -> assertThat(k.lastResort()).isTrue());

    service.publish(ALICE, List.of(new Item(byFlag, true)));
    GetKeyPackages.Output after = claim(BOB, ALICE);
    assertThat(after.keyPackages()).singleElement().satisfies(k -> {
      assertThat(k.keyPackageRef()).isEqualTo(ref(byFlag));
      assertThat(k.lastResort()).isTrue();
    });
    assertThat(db.inTransaction(h -> store.find(h, ref(byExtension))).orElseThrow().replaced()).isTrue();
    assertThat(db.inTransaction(h -> store.find(h, ref(otherSuite))).orElseThrow().replaced()).isFalse();
    // Last-resort uploads are never counted as available one-time KeyPackages.
    assertThat(service.status(ALICE, new GetKeyPackageStatus.Params(Optional.of(SUITE))).devices())
        .singleElement().satisfies(s -> {
          assertThat(s.available()).isZero();
          assertThat(s.lastResort()).isTrue();
        });
  }

  // ---- claim -----------------------------------------------------------------------------------------

  @Test
  void oneKeyPackagePerDeviceOldestFirstReservedForTheCaller() {
    SigningKey phone = device();
    SigningKey laptop = device();
    byte[] p1 = kp(ALICE, phone);
    clock.advance(Duration.ofMillis(5));
    byte[] p2 = kp(ALICE, phone);
    byte[] l1 = kp(ALICE, laptop);
    publish(ALICE, p1);
    clock.advance(Duration.ofMillis(5));
    publish(ALICE, p2, l1);
    byte[] c1 = kp(CAROL, device());
    publish(CAROL, c1);

    GetKeyPackages.Output out = service.claim(BOB, new GetKeyPackages.Params(
        List.of(ALICE, new Did("did:plc:nobody"), CAROL), SUITE));
    assertThat(out.keyPackages()).extracting(GetKeyPackages.Item::keyPackageRef)
        .containsExactlyInAnyOrder(ref(p1), ref(l1), ref(c1));
    assertThat(out.missing()).containsExactly("did:plc:nobody");
    GetKeyPackages.Item fromPhone = out.keyPackages().stream().filter(k -> k.deviceId().equals(deviceId(phone)))
        .findFirst().orElseThrow();
    assertThat(fromPhone.did()).isEqualTo(ALICE.value());
    assertThat(fromPhone.keyPackage()).isEqualTo(Json.base64url(p1));
    assertThat(fromPhone.cipherSuite()).isEqualTo(SUITE.name());
    assertThat(fromPhone.lastResort()).isFalse();
    StoredKeyPackage reserved = db.inTransaction(h -> store.find(h, ref(p1))).orElseThrow();
    assertThat(reserved.state()).isEqualTo(KeyPackageState.RESERVED);
    assertThat(reserved.reservedBy()).isEqualTo(BOB);
    assertThat(reserved.reservedUntil()).isEqualTo(clock.instant().plus(Duration.ofMinutes(10)));

    // The next adder gets the phone's next one; the laptop has nothing left, and Alice is not missing.
    GetKeyPackages.Output next = claim(CAROL, ALICE);
    assertThat(next.keyPackages()).extracting(GetKeyPackages.Item::keyPackageRef).containsExactly(ref(p2));
    assertThat(claim(CAROL, ALICE).missing()).containsExactly(ALICE.value());
    assertThat(counter("mlsds.keypackages.claims", "outcome", "one_time")).isEqualTo(4);
    assertThat(counter("mlsds.keypackages.claims", "outcome", "missing")).isEqualTo(2);
  }

  @Test
  void onlyTheRequestedSuiteIsServedAndTheCallerMayAskForItself() {
    SigningKey ed = device();
    SigningKey p = SigningKey.generate(P256);
    byte[] edKp = kp(ALICE, ed);
    byte[] pKp = kp(ALICE, p);
    publish(ALICE, edKp, pKp);
    assertThat(service.claim(ALICE, new GetKeyPackages.Params(List.of(ALICE), P256)).keyPackages())
        .extracting(GetKeyPackages.Item::keyPackageRef).containsExactly(ref(pKp));
    assertThat(claim(ALICE, ALICE).keyPackages()).extracting(GetKeyPackages.Item::keyPackageRef)
        .containsExactly(ref(edKp));
  }

  @Test
  void expiredKeyPackagesAreNeverHandedOut() {
    SigningKey d = device();
    Instant now = clock.instant();
    publish(ALICE, builder(ALICE, d).lifetime(now.minusSeconds(60), now.plus(Duration.ofHours(1))).build(),
        builder(ALICE, d).lastResort(true).lifetime(now.minusSeconds(60), now.plus(Duration.ofHours(1))).build());
    clock.advance(Duration.ofHours(1));
    assertThat(claim(BOB, ALICE).missing()).containsExactly(ALICE.value());
    assertThat(rows("state = 'available'")).isEqualTo(2);
  }

  @Test
  void aLapsedLeaseReturnsTheKeyPackageToOtherAdders() {
    SigningKey d = device();
    byte[] only = kp(ALICE, d);
    publish(ALICE, only);
    assertThat(claim(BOB, ALICE).keyPackages()).hasSize(1);
    clock.advance(Duration.ofMinutes(10).minusMillis(1));
    assertThat(claim(CAROL, ALICE).missing()).containsExactly(ALICE.value());
    clock.advance(Duration.ofMillis(1));
    assertThat(claim(CAROL, ALICE).keyPackages()).extracting(GetKeyPackages.Item::keyPackageRef)
        .containsExactly(ref(only));
  }

  @Test
  void aDeviceLeftBelowTheThresholdGetsAKeyPackagesLowEvent() {
    useLimits(KeyPackageTesting.limits(200, 2, 3000, 100));
    SigningKey d = device();
    publish(ALICE, kp(ALICE, d), kp(ALICE, d), kp(ALICE, d), builder(ALICE, d).lastResort(true).build());
    claim(BOB, ALICE);
    assertThat(notifier.userEvents).isEmpty();
    claim(BOB, ALICE);
    assertThat(notifier.userEvents).singleElement().satisfies(e -> {
      assertThat(e.did()).isEqualTo(ALICE);
      assertThat(e.type()).isEqualTo("keyPackagesLowEvent");
      assertThat(json(e.json())).isEqualTo(json("{\"deviceId\":\"" + deviceId(d) + "\",\"available\":1}"));
    });
    claim(BOB, ALICE);
    claim(BOB, ALICE);
    assertThat(notifier.userEvents).extracting(e -> json(e.json()).get("available").asInt()).containsExactly(1, 0, 0);
    assertThat(counter("mlsds.keypackages.claims", "outcome", "last_resort")).isEqualTo(1);
  }

  static JsonNode json(String s) {
    try {
      return Json.MAPPER.readTree(s);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  // ---- status ----------------------------------------------------------------------------------------

  @Test
  void statusReportsEachDeviceAndWhetherToReplenish() {
    GetKeyPackageStatus.Output none = service.status(ALICE, new GetKeyPackageStatus.Params(Optional.empty()));
    assertThat(none.devices()).isEmpty();
    assertThat(none.needsReplenish()).isTrue();
    assertThat(none.threshold()).isEqualTo(10);

    useLimits(KeyPackageTesting.limits(200, 2, 3000, 100));
    SigningKey d = device();
    Instant now = clock.instant();
    byte[] soon = builder(ALICE, d).lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(2))).build();
    publish(ALICE, kp(ALICE, d), kp(ALICE, d), soon);
    GetKeyPackageStatus.Output three = service.status(ALICE, new GetKeyPackageStatus.Params(Optional.empty()));
    assertThat(three.needsReplenish()).isFalse();
    assertThat(three.devices()).singleElement().satisfies(s -> {
      assertThat(s.deviceId()).isEqualTo(deviceId(d));
      assertThat(s.available()).isEqualTo(3);
      assertThat(s.reserved()).isZero();
      assertThat(s.lastResort()).isFalse();
      assertThat(s.oldestExpiresAt()).isEqualTo(Instant.ofEpochSecond(now.plus(Duration.ofDays(2)).getEpochSecond()));
    });
    claim(BOB, ALICE);
    claim(BOB, ALICE);
    GetKeyPackageStatus.Output low = service.status(ALICE, new GetKeyPackageStatus.Params(Optional.empty()));
    assertThat(low.devices().get(0).available()).isEqualTo(1);
    assertThat(low.devices().get(0).reserved()).isEqualTo(2);
    assertThat(low.needsReplenish()).isTrue();
    assertThat(service.status(ALICE, new GetKeyPackageStatus.Params(Optional.of(P256))).devices()).isEmpty();
  }

  // ---- sync ------------------------------------------------------------------------------------------

  void convoWithWelcome(String convoId, byte[] kp, Did did, String state) {
    db.withHandle(h -> {
      h.createUpdate("""
          INSERT INTO convos (id, creator_did, cipher_suite, epoch, latest_seq, created_at)
          SELECT :id, 'did:plc:bob', 1, 1, 3, 0 WHERE NOT EXISTS (SELECT 1 FROM convos WHERE id = :id)""")
          .bind("id", convoId).execute();
      String blob = new dev.mlsds.server.delivery.WelcomeStore().insertBlob(h,
          new dev.mlsds.server.conversations.ConvoId(convoId), new Did("did:plc:bob"), new byte[] {1}, 0);
      return h.createUpdate("""
          INSERT INTO welcomes (convo_id, key_package_ref, did, device_id, blob_id, state, created_at)
          VALUES (:c, :r, :d, :dev, :blob, :s, 0)""").bind("c", convoId).bind("r", ref(kp)).bind("d", did.value())
          .bind("dev", KeyPackage.decode(kp).deviceId()).bind("blob", blob).bind("s", state).execute();
    });
  }

  String welcomeState(String convoId, byte[] kp) {
    return db.withHandle(h -> h.createQuery("SELECT state FROM welcomes WHERE convo_id = :c AND key_package_ref = :r")
        .bind("c", convoId).bind("r", ref(kp)).mapTo(String.class).one());
  }

  @Test
  void syncDeletesTheDevicesOtherKeyPackagesAndAsksForReAddsInTheSameTransaction() {
    SigningKey d = device();
    SigningKey otherDevice = device();
    byte[] keep = kp(ALICE, d);
    byte[] orphan = kp(ALICE, d);
    byte[] usedOrphan = kp(ALICE, d);
    byte[] consumed = kp(ALICE, d);
    byte[] lastResort = builder(ALICE, d).lastResort(true).build();
    byte[] otherKp = kp(ALICE, otherDevice);
    byte[] otherUsed = kp(ALICE, otherDevice);
    byte[] bobSameKey = kp(BOB, d);
    publish(ALICE, keep, orphan, usedOrphan, consumed, lastResort, otherKp, otherUsed);
    publish(BOB, bobSameKey);
    long now = clock.millis();
    db.inTransaction(h -> store.markUsed(h, ref(usedOrphan), "aa01", now) && store.markUsed(h, ref(consumed), "aa02", now)
        && store.markConsumed(h, ref(consumed), now) && store.markUsed(h, ref(otherUsed), "aa01", now));
    convoWithWelcome("aa01", usedOrphan, ALICE, "pending");
    convoWithWelcome("aa02", consumed, ALICE, "fetched");
    convoWithWelcome("aa01", otherUsed, ALICE, "pending");

    SyncKeyPackages.Output out = service.sync(ALICE, new SyncKeyPackages.Input(new DeviceId(deviceId(d)),
        Set.of(ref(keep), ref(otherKp), ref(kp(ALICE, d)))));

    assertThat(out).isEqualTo(new SyncKeyPackages.Output(1, 3, 1));
    assertThat(rows("ref = '" + ref(keep) + "'")).isEqualTo(1);
    for (byte[] gone : List.of(orphan, usedOrphan, lastResort)) {
      assertThat(rows("ref = '" + ref(gone) + "'")).isZero();
    }
    for (byte[] untouched : List.of(consumed, otherKp, otherUsed, bobSameKey)) {
      assertThat(rows("ref = '" + ref(untouched) + "'")).isEqualTo(1);
    }
    assertThat(welcomeState("aa01", usedOrphan)).isEqualTo("unusable");
    assertThat(welcomeState("aa02", consumed)).isEqualTo("fetched");
    assertThat(welcomeState("aa01", otherUsed)).isEqualTo("pending");
    List<Map<String, Object>> events = db.withHandle(h -> h.createQuery(
        "SELECT convo_id, seq, idx, type, payload, recipient_did FROM convo_events").mapToMap().list());
    assertThat(events).singleElement().satisfies(e -> {
      assertThat(e.get("convo_id")).isEqualTo("aa01");
      assertThat(e.get("type")).isEqualTo("readdRequestedEvent");
      assertThat(((Number) e.get("seq")).longValue()).isEqualTo(3);
      assertThat(e.get("recipient_did")).isNull();
      assertThat(json((String) e.get("payload"))).isEqualTo(json(
          "{\"convoId\":\"aa01\",\"did\":\"did:plc:alice\",\"deviceId\":\"" + deviceId(d) + "\"}"));
    });
    assertThat(notifier.convosChanged).containsExactly("aa01");
  }

  @Test
  void syncOfADeviceIdThatIsNotTheCallersDeletesNothing() {
    SigningKey d = device();
    byte[] bobs = kp(BOB, d);
    publish(BOB, bobs);
    assertThat(service.sync(ALICE, new SyncKeyPackages.Input(new DeviceId(deviceId(d)), Set.of())))
        .isEqualTo(new SyncKeyPackages.Output(0, 0, 0));
    assertThat(rows("ref = '" + ref(bobs) + "'")).isEqualTo(1);
  }

  // ---- maintenance -----------------------------------------------------------------------------------

  @Test
  void purgeDeletesExpiredKeyPackagesReleasesLeasesAndInvalidatesWelcomesOfPurgedOnes() {
    SigningKey d = device();
    Instant now = clock.instant();
    byte[] shortLived = builder(ALICE, d).lifetime(now.minusSeconds(60), now.plus(Duration.ofHours(1))).build();
    byte[] lastResort = builder(ALICE, d).lastResort(true)
        .lifetime(now.minusSeconds(60), now.plus(Duration.ofHours(1))).build();
    byte[] leased = kp(ALICE, d);
    publish(ALICE, shortLived, lastResort, leased);
    db.inTransaction(h -> store.markUsed(h, ref(lastResort), "bb01", now.toEpochMilli()));
    convoWithWelcome("bb01", lastResort, ALICE, "pending");
    claim(BOB, ALICE);
    claim(BOB, ALICE);
    clock.advance(Duration.ofHours(2));

    KeyPackageService.Purged purged = service.purgeExpired();

    assertThat(purged).isEqualTo(new KeyPackageService.Purged(2, 1, 0, 1));
    assertThat(rows("1 = 1")).isEqualTo(1);
    assertThat(db.inTransaction(h -> store.find(h, ref(leased))).orElseThrow().state())
        .isEqualTo(KeyPackageState.AVAILABLE);
    assertThat(welcomeState("bb01", lastResort)).isEqualTo("unusable");
    assertThat(notifier.convosChanged).containsExactly("bb01");
    assertThat(service.purgeExpired()).isEqualTo(new KeyPackageService.Purged(0, 0, 0, 0));
  }

  // ---- the legacy single-item form -------------------------------------------------------------------

  @Test
  void publishOneChecksTheSuiteAndExpiresAndReturnsTheRefAndDevice() {
    SigningKey d = device();
    byte[] k = kp(ALICE, d);
    Instant notAfter = Instant.ofEpochSecond(KeyPackage.decode(k).leafNode().lifetime().notAfter());
    UnaryOperator<Instant> none = t -> t;

    assertThat(rejectOne(k, P256, null)).startsWith("cipher_suite:");
    assertThat(rejectOne(k, SUITE, notAfter.plusSeconds(1))).startsWith("expires:");
    assertThat(rejectOne(k, SUITE, clock.instant())).startsWith("expires:");
    assertThat(rejectOne(kp(BOB, d), SUITE, null)).startsWith("identity:");
    assertThat(rows("1 = 1")).isZero();

    Instant expires = clock.instant().plus(Duration.ofDays(1));
    PublishKeyPackage.Output out = service.publishOne(ALICE, new PublishKeyPackage.Input(k, SUITE, Optional.of(expires)));
    assertThat(out).isEqualTo(new PublishKeyPackage.Output(ref(k), deviceId(d)));
    assertThat(db.inTransaction(h -> store.find(h, ref(k))).orElseThrow().notAfter()).isEqualTo(none.apply(expires));
    assertThat(service.publishOne(ALICE, new PublishKeyPackage.Input(k, SUITE, Optional.empty()))).isEqualTo(out);
    assertThat(rows("1 = 1")).isEqualTo(1);

    useLimits(KeyPackageTesting.limits(1, 10, 3000, 100));
    assertThatThrownBy(() -> service.publishOne(ALICE, new PublishKeyPackage.Input(kp(ALICE, d), SUITE, Optional.empty())))
        .isInstanceOfSatisfying(XrpcException.class, e -> assertThat(e.error()).isEqualTo(XrpcError.KeyPackageLimitReached));
  }

  String rejectOne(byte[] k, CipherSuite suite, Instant expires) {
    try {
      service.publishOne(ALICE, new PublishKeyPackage.Input(k, suite, Optional.ofNullable(expires)));
    } catch (XrpcException e) {
      assertThat(e.error()).isEqualTo(XrpcError.InvalidKeyPackage);
      return e.getMessage();
    }
    throw new AssertionError("accepted");
  }
}
