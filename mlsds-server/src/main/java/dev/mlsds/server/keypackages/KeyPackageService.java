package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.InvalidKeyPackageException;
import dev.mlsds.codec.KeyPackagePolicy;
import dev.mlsds.codec.KeyPackageValidator;
import dev.mlsds.codec.ValidatedKeyPackage;
import dev.mlsds.codec.WireFormat;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.keypackages.KeyPackageMetrics.ClaimOutcome;
import dev.mlsds.server.keypackages.KeyPackageMetrics.PublishOutcome;
import dev.mlsds.server.keypackages.PublishKeyPackages.Result;
import dev.mlsds.server.keypackages.PublishKeyPackages.Status;
import dev.mlsds.server.limits.CpuPool;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jdbi.v3.core.Handle;

/**
 * The KeyPackage rules of docs/api.md §3: what may be uploaded, who gets which KeyPackage, and how a device
 * prunes what it no longer holds. Each public method is one transaction; notifications go out after it
 * commits.
 *
 * <ul>
 *   <li><b>Publish</b>: every item is validated alone (signatures, lifetime, suite, size, credential
 *       identity = the caller) before any database work; a known KeyPackageRef is a duplicate; a device
 *       holds at most {@code availableKeyPackagesPerDevice} one-time KeyPackages not yet named by a Welcome;
 *       a last-resort upload retires the device's previous one in that suite.</li>
 *   <li><b>Claim</b>: one KeyPackage per device of each DID, reserved for the caller for the lease, else
 *       the device's last-resort KeyPackage; a device left with fewer than the threshold gets a
 *       {@code keyPackagesLowEvent}.</li>
 *   <li><b>Sync</b>: scoped to the caller's own (DID, device): a device id that is not the caller's has
 *       nothing to delete, and the answer says so ({@code kept = deleted = 0}) without revealing whose it
 *       is. Deleting a KeyPackage makes the pending Welcomes naming it unusable and asks each of their
 *       conversations to re-add the device ({@code readdRequestedEvent}), in the same transaction.</li>
 * </ul>
 */
public final class KeyPackageService {
  /** Used KeyPackages whose Welcome was never fetched are kept this long past their expiry. */
  static final Duration USED_RETENTION = Duration.ofDays(30);
  /** Consumed KeyPackages are kept this long (for status and audits), then deleted. */
  static final Duration CONSUMED_RETENTION = Duration.ofDays(30);
  static final int PURGE_BATCH = 1000;
  private static final byte[] MLS_MESSAGE_HEADER = {0, 1, 0, (byte) WireFormat.MLS_KEY_PACKAGE.value()};

  private final Database db;
  private final KeyPackageStore store;
  private final WelcomeStore welcomes;
  private final ConvoEventLog events;
  private final Notifier notifier;
  private final Config.Limits limits;
  private final Clock clock;
  private final KeyPackageMetrics metrics;
  private final KeyPackageValidator validator;
  private final CpuPool validations;
  private final int devicesPerDid;

  public KeyPackageService(Database db, KeyPackageStore store, WelcomeStore welcomes, ConvoEventLog events,
      Notifier notifier, Config.Limits limits, Clock clock, KeyPackageMetrics metrics) {
    this(db, store, welcomes, events, notifier, limits, StorageLimits.defaults().devicesPerDid(), clock, metrics);
  }

  /** As above, with the cap on devices (signature keys) one DID may hold KeyPackages for (H3). */
  public KeyPackageService(Database db, KeyPackageStore store, WelcomeStore welcomes, ConvoEventLog events,
      Notifier notifier, Config.Limits limits, int devicesPerDid, Clock clock, KeyPackageMetrics metrics) {
    this(db, store, welcomes, events, notifier, limits, devicesPerDid, clock, metrics, CpuPool.callerThread());
  }

  /** As above, validating uploads on {@code validations} (a bounded pool of platform threads). */
  public KeyPackageService(Database db, KeyPackageStore store, WelcomeStore welcomes, ConvoEventLog events,
      Notifier notifier, Config.Limits limits, int devicesPerDid, Clock clock, KeyPackageMetrics metrics,
      CpuPool validations) {
    this.validations = validations;
    this.devicesPerDid = devicesPerDid;
    this.db = db;
    this.store = store;
    this.welcomes = welcomes;
    this.events = events;
    this.notifier = notifier;
    this.limits = limits;
    this.clock = clock;
    this.metrics = metrics;
    this.validator = new KeyPackageValidator(clock, KeyPackagePolicy.defaults()
        .withMaxLifetime(limits.keyPackageMaxLifetime()).withMaxSize(limits.keyPackageMaxBytes()));
  }

  // ---- Publish --------------------------------------------------------------------------------------

  /** An item after validation: ready to store, or rejected by the codec. */
  private sealed interface Checked {
    record Valid(KeyPackageStore.NewKeyPackage kp) implements Checked {}

    record Invalid(String message) implements Checked {}
  }

  /** What storing a valid upload did. */
  private enum Stored { PUBLISHED, DUPLICATE, LIMIT_REACHED, DEVICE_LIMIT_REACHED }

  public PublishKeyPackages.Output publish(Did caller, List<PublishKeyPackages.Item> items) {
    List<Checked> checked = validations.run(() -> {
      List<Checked> out = new ArrayList<>(items.size());
      for (PublishKeyPackages.Item item : items) {
        out.add(check(caller, item.keyPackage(), item.lastResort()));
      }
      return out;
    });
    List<KeyPackageStore.NewKeyPackage> valid = checked.stream()
        .<KeyPackageStore.NewKeyPackage>mapMulti((c, out) -> {
          if (c instanceof Checked.Valid v) {
            out.accept(v.kp());
          }
        }).toList();
    long now = clock.millis();
    record Done(List<Stored> stored, List<KeyPackageStore.AvailableCount> counts) {}
    // The reply is built in the transaction, so the idempotency record stores it with the work.
    List<Done> box = new ArrayList<>(1);
    PublishKeyPackages.Output output = db.inTransactionReplying(h -> {
      Done done = new Done(store(h, caller, valid, now), store.availableCounts(h, caller, now));
      box.clear();
      box.add(done);
      return output(checked, valid, done.stored(), done.counts());
    });
    Done done = box.get(0);
    for (Checked c : checked) {
      if (c instanceof Checked.Invalid) {
        metrics.published(PublishOutcome.INVALID);
      }
    }
    done.stored().forEach(this::count);
    metrics.availablePerUser(done.counts().stream().mapToLong(KeyPackageStore.AvailableCount::count).sum());
    return output;
  }

  private PublishKeyPackages.Output output(List<Checked> checked, List<KeyPackageStore.NewKeyPackage> valid,
      List<Stored> stored, List<KeyPackageStore.AvailableCount> availableCounts) {
    List<Result> results = new ArrayList<>(checked.size());
    int v = 0;
    for (int i = 0; i < checked.size(); i++) {
      switch (checked.get(i)) {
        case Checked.Invalid bad ->
            results.add(new Result(i, Status.REJECTED, null, null, null, XrpcError.InvalidKeyPackage.name(), bad.message()));
        case Checked.Valid ok -> results.add(result(i, ok.kp(), stored.get(v++)));
      }
    }
    // Every (device, suite) the batch touched, with 0 when nothing of it is available (e.g. only a last resort).
    record DeviceSuite(String deviceId, CipherSuite suite) {}
    Map<DeviceSuite, Integer> counts = new HashMap<>();
    availableCounts.forEach(c -> counts.put(new DeviceSuite(c.deviceId().value(), c.cipherSuite()), c.count()));
    List<PublishKeyPackages.Available> available = valid.stream()
        .map(kp -> new DeviceSuite(kp.deviceId().value(), kp.cipherSuite())).distinct()
        .sorted(Comparator.comparing(DeviceSuite::deviceId).thenComparing(DeviceSuite::suite))
        .map(k -> new PublishKeyPackages.Available(k.deviceId(), k.suite().name(), counts.getOrDefault(k, 0)))
        .toList();
    return new PublishKeyPackages.Output(results, available);
  }

  private Result result(int index, KeyPackageStore.NewKeyPackage kp, Stored stored) {
    String ref = kp.ref();
    String device = kp.deviceId().value();
    String suite = kp.cipherSuite().name();
    return switch (stored) {
      case PUBLISHED -> new Result(index, Status.PUBLISHED, ref, device, suite, null, null);
      case DUPLICATE -> new Result(index, Status.DUPLICATE, ref, device, suite, null, null);
      case LIMIT_REACHED -> new Result(index, Status.REJECTED, ref, device, suite,
          XrpcError.KeyPackageLimitReached.name(), limitMessage());
      case DEVICE_LIMIT_REACHED -> new Result(index, Status.REJECTED, ref, device, suite,
          XrpcError.KeyPackageLimitReached.name(), deviceLimitMessage());
    };
  }

  private void count(Stored stored) {
    metrics.published(switch (stored) {
      case PUBLISHED -> PublishOutcome.PUBLISHED;
      case DUPLICATE -> PublishOutcome.DUPLICATE;
      case LIMIT_REACHED, DEVICE_LIMIT_REACHED -> PublishOutcome.LIMIT_REACHED;
    });
  }

  /** The single-item form: a rejection is a 400 InvalidKeyPackage, the limit a 409, a duplicate a success. */
  public PublishKeyPackage.Output publishOne(Did caller, PublishKeyPackage.Input in) {
    long now = clock.millis();
    ValidatedKeyPackage v = validate(caller, in.keyPackage());
    if (v.cipherSuite() != in.cipherSuite()) {
      throw invalid("cipher_suite: the KeyPackage is " + v.cipherSuite().name() + ", not " + in.cipherSuite().name());
    }
    long notAfter = notAfterMillis(v.notAfter());
    if (in.expires().isPresent()) {
      long expires = in.expires().get().toEpochMilli();
      if (expires > notAfter) {
        throw invalid("expires: " + Json.formatTime(in.expires().get()) + " is after the KeyPackage's not_after "
            + Json.formatTime(Instant.ofEpochMilli(notAfter)));
      }
      if (expires <= now) {
        throw invalid("expires: " + Json.formatTime(in.expires().get()) + " is not in the future");
      }
      notAfter = expires;
    }
    KeyPackageStore.NewKeyPackage kp = newKeyPackage(caller, v, false, notAfter);
    Stored stored = db.inTransaction(h -> {
      Stored s = store(h, caller, List.of(kp), now).get(0);
      store.markLegacyUpload(h, caller, kp.ref());
      return s;
    });
    count(stored);
    if (stored == Stored.LIMIT_REACHED || stored == Stored.DEVICE_LIMIT_REACHED) {
      throw new XrpcException(XrpcError.KeyPackageLimitReached,
          stored == Stored.LIMIT_REACHED ? limitMessage() : deviceLimitMessage());
    }
    return new PublishKeyPackage.Output(kp.ref(), kp.deviceId().value());
  }

  private XrpcException invalid(String message) {
    metrics.published(PublishOutcome.INVALID);
    return new XrpcException(XrpcError.InvalidKeyPackage, message);
  }

  private Checked check(Did caller, byte[] raw, boolean lastResortFlag) {
    try {
      ValidatedKeyPackage v = validator.validate(raw, caller.value());
      return new Checked.Valid(newKeyPackage(caller, v, lastResortFlag, notAfterMillis(v.notAfter())));
    } catch (InvalidKeyPackageException e) {
      return new Checked.Invalid(e.getMessage());
    }
  }

  private ValidatedKeyPackage validate(Did caller, byte[] raw) {
    try {
      return validations.run(() -> validator.validate(raw, caller.value()));
    } catch (InvalidKeyPackageException e) {
      throw invalid(e.getMessage());
    }
  }

  private static KeyPackageStore.NewKeyPackage newKeyPackage(Did caller, ValidatedKeyPackage v, boolean lastResortFlag,
      long notAfter) {
    // Stored framed as an MLSMessage, from the bytes as received (never a re-serialisation).
    byte[] bare = v.keyPackage().bareBytes();
    byte[] framed = new byte[MLS_MESSAGE_HEADER.length + bare.length];
    System.arraycopy(MLS_MESSAGE_HEADER, 0, framed, 0, MLS_MESSAGE_HEADER.length);
    System.arraycopy(bare, 0, framed, MLS_MESSAGE_HEADER.length, bare.length);
    return new KeyPackageStore.NewKeyPackage(v.refHex(), caller, new DeviceId(v.deviceId()), v.cipherSuite(), framed,
        v.lastResort() || lastResortFlag, notAfter);
  }

  /** {@code not_after} is unsigned seconds; the validator bounds it by the maximum lifetime, this guards the rest. */
  private static long notAfterMillis(long notAfterSeconds) {
    return notAfterSeconds < 0 || notAfterSeconds > Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : notAfterSeconds * 1000;
  }

  private List<Stored> store(Handle h, Did caller, List<KeyPackageStore.NewKeyPackage> kps, long now) {
    // Lock devices in a fixed order so two batches touching the same devices cannot deadlock.
    new TreeSet<>(kps.stream().map(kp -> kp.deviceId().value()).toList())
        .forEach(d -> store.lockDevice(h, caller, new DeviceId(d)));
    Map<DeviceId, Integer> held = new HashMap<>();
    Set<String> devices = null; // the DID's devices holding KeyPackages, read once a new device shows up
    List<Stored> out = new ArrayList<>(kps.size());
    for (KeyPackageStore.NewKeyPackage kp : kps) {
      if (store.exists(h, kp.ref())) {
        out.add(Stored.DUPLICATE);
        continue;
      }
      if (devices == null || !devices.contains(kp.deviceId().value())) {
        if (devices == null) {
          devices = new HashSet<>(store.devicesHolding(h, caller, now));
        }
        if (!devices.contains(kp.deviceId().value()) && devices.size() >= devicesPerDid) {
          out.add(Stored.DEVICE_LIMIT_REACHED);
          continue;
        }
        devices.add(kp.deviceId().value());
      }
      if (kp.lastResort()) {
        store.retireLastResort(h, caller, kp.deviceId(), kp.cipherSuite(), now);
      } else {
        int count = held.computeIfAbsent(kp.deviceId(), d -> store.countHeld(h, caller, d, now));
        if (count >= limits.availableKeyPackagesPerDevice()) {
          out.add(Stored.LIMIT_REACHED);
          continue;
        }
        held.put(kp.deviceId(), count + 1);
      }
      store.insert(h, kp, now);
      out.add(Stored.PUBLISHED);
    }
    return out;
  }

  private String deviceLimitMessage() {
    return "this DID already holds KeyPackages for " + devicesPerDid
        + " devices; a new device can publish once an old one's KeyPackages are gone (syncKeyPackages or expiry)";
  }

  private String limitMessage() {
    return "this device already holds " + limits.availableKeyPackagesPerDevice()
        + " KeyPackages that have not been used; publish more once some are used";
  }

  // ---- Claim ----------------------------------------------------------------------------------------

  private record Low(Did did, DeviceId deviceId, int available) {}

  private record Claimed(List<GetKeyPackages.Item> items, List<String> missing, List<Low> lows,
      List<ClaimOutcome> outcomes) {}

  public GetKeyPackages.Output claim(Did caller, GetKeyPackages.Params params) {
    CipherSuite suite = params.cipherSuite();
    long now = clock.millis();
    long leaseUntil = now + limits.reservationLease().toMillis();
    Claimed c = db.inTransaction(h -> {
      Claimed out = new Claimed(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
      for (Did did : params.dids()) {
        int before = out.items().size();
        // Asking for one's own DID (the 2025 client's inventory check) is a view: nothing is reserved.
        boolean view = did.equals(caller);
        // A user's legacy uploads (one signature key per KeyPackage) are one device: one KeyPackage per call.
        List<DeviceId> legacy = store.legacyDevices(h, did, suite, now);
        List<DeviceId> devices = new ArrayList<>(store.candidateDevices(h, did, suite, now));
        devices.removeAll(legacy);
        for (DeviceId device : devices) {
          Claim claim = view ? store.peek(h, did, device, suite, now) : store.claim(h, did, device, suite, caller, now, leaseUntil);
          record(h, out, did, device, suite, claim, now, !view);
        }
        for (DeviceId device : legacy) {
          Claim claim = view ? store.peek(h, did, device, suite, now) : store.claim(h, did, device, suite, caller, now, leaseUntil);
          if (!(claim instanceof Claim.Nothing)) {
            record(h, out, did, device, suite, claim, now, false);
            break;
          }
        }
        if (out.items().size() == before) {
          out.missing().add(did.value());
          out.outcomes().add(ClaimOutcome.MISSING);
        }
      }
      return out;
    });
    c.outcomes().forEach(metrics::claimed);
    // After commit: a stream that misses this (offline device) still sees needsReplenish in the status.
    for (Low low : c.lows()) {
      notifier.userEvent(low.did(), "keyPackagesLowEvent",
          Json.write(Map.of("deviceId", low.deviceId().value(), "available", low.available())));
    }
    return new GetKeyPackages.Output(List.copyOf(c.items()), List.copyOf(c.missing()));
  }

  private void record(Handle h, Claimed out, Did did, DeviceId device, CipherSuite suite, Claim claim, long now,
      boolean reportLow) {
    switch (claim) {
      case Claim.OneTime one -> {
        out.items().add(item(did, one.keyPackage(), false));
        out.outcomes().add(ClaimOutcome.ONE_TIME);
        int left = reportLow ? store.countAvailable(h, did, device, suite, now) : Integer.MAX_VALUE;
        if (left < limits.keyPackageLowThreshold()) {
          out.lows().add(new Low(did, device, left));
        }
      }
      case Claim.LastResort last -> {
        out.items().add(item(did, last.keyPackage(), true));
        out.outcomes().add(ClaimOutcome.LAST_RESORT);
        if (reportLow) {
          out.lows().add(new Low(did, device, 0));
        }
      }
      case Claim.Nothing nothing -> { }
    }
  }

  private static GetKeyPackages.Item item(Did did, Claim.Handed kp, boolean lastResort) {
    return new GetKeyPackages.Item(did.value(), kp.deviceId().value(), Json.base64url(kp.data()), kp.ref(), kp.cipherSuite().name(),
        lastResort);
  }

  // ---- Status ---------------------------------------------------------------------------------------

  public GetKeyPackageStatus.Output status(Did caller, GetKeyPackageStatus.Params params) {
    long now = clock.millis();
    List<KeyPackageStore.DeviceStatus> rows = db.withHandle(h -> store.status(h, caller, params.cipherSuite(), now));
    int threshold = limits.keyPackageLowThreshold();
    List<GetKeyPackageStatus.Device> devices = rows.stream()
        .map(r -> new GetKeyPackageStatus.Device(r.deviceId().value(), r.cipherSuite().name(), r.available(),
            r.reserved(), r.lastResort(), r.consumedLast24h(), r.oldestExpiresAt()))
        .toList();
    boolean needsReplenish = devices.isEmpty() || devices.stream().anyMatch(d -> d.available() < threshold);
    return new GetKeyPackageStatus.Output(devices, threshold, needsReplenish);
  }

  // ---- Sync -----------------------------------------------------------------------------------------

  public SyncKeyPackages.Output sync(Did caller, SyncKeyPackages.Input in) {
    long now = clock.millis();
    record Done(int kept, int deleted, List<WelcomeStore.Invalidated> invalidated) {}
    Done done = db.inTransaction(h -> {
      // L6: conversation rows first, then the KeyPackage rows (addMembers' order). The unlocked read only
      // finds the conversations; the locked re-read is what gets deleted (a conversation that started
      // naming one of them in between is locked then, the one case left to the deadlock retry).
      lockConvosOf(h, store.unconsumedRefsUnlocked(h, caller, in.deviceId()).stream()
          .filter(r -> !in.keyPackageRefs().contains(r)).toList());
      List<String> refs = store.unconsumedRefs(h, caller, in.deviceId());
      List<String> orphans = refs.stream().filter(r -> !in.keyPackageRefs().contains(r)).toList();
      lockConvosOf(h, orphans);
      int deleted = store.delete(h, orphans);
      return new Done(refs.size() - orphans.size(), deleted, invalidate(h, orphans, now));
    });
    notifyConvos(done.invalidated());
    return new SyncKeyPackages.Output(done.kept(), done.deleted(), done.invalidated().size());
  }

  /**
   * Locks the conversations whose open Welcomes name {@code refs} before any KeyPackage row is touched:
   * the same order as addMembers (conversation, then the KeyPackages its Welcome names), so a sync or
   * purge and an add cannot deadlock.
   */
  private void lockConvosOf(Handle h, List<String> refs) {
    events.lockConvos(h, welcomes.openConvoIds(h, refs));
  }

  /** Pending Welcomes naming deleted KeyPackages become unusable; each conversation is asked to re-add the device. */
  private List<WelcomeStore.Invalidated> invalidate(Handle h, List<String> deletedRefs, long now) {
    List<WelcomeStore.Invalidated> invalidated = welcomes.markUnusable(h, deletedRefs);
    // markUnusable orders by conversation, so conversation rows are locked in one global order.
    for (WelcomeStore.Invalidated w : invalidated) {
      Map<String, Object> payload = new LinkedHashMap<>();
      payload.put("convoId", w.convoId());
      payload.put("did", w.did().value());
      payload.put("deviceId", w.deviceId());
      events.append(h, w.convoId(), "readdRequestedEvent", payload, null, now);
    }
    return invalidated;
  }

  private void notifyConvos(List<WelcomeStore.Invalidated> invalidated) {
    invalidated.stream().map(WelcomeStore.Invalidated::convoId).distinct().forEach(notifier::convoChanged);
  }

  // ---- Maintenance ----------------------------------------------------------------------------------

  /** What one {@link #purgeExpired()} run removed or tidied. */
  public record Purged(int expiredDeleted, int leasesReleased, int consumedDeleted, int welcomesInvalidated) {}

  /**
   * Maintenance, for a periodic scheduler: deletes expired KeyPackages that no Welcome names (and used
   * ones {@link #USED_RETENTION} past expiry, invalidating their Welcomes as a sync would), returns lapsed
   * reservations to available, and deletes consumed KeyPackages older than {@link #CONSUMED_RETENTION} once
   * they have expired too (so the same bytes can never be uploaded and handed out a second time).
   * Works in batches of {@value #PURGE_BATCH} so no transaction grows large.
   */
  public Purged purgeExpired() {
    long now = clock.millis();
    int expired = 0;
    List<WelcomeStore.Invalidated> invalidated = new ArrayList<>();
    while (true) {
      record Batch(int found, int deleted, List<WelcomeStore.Invalidated> invalidated) {}
      Batch b = db.inTransaction(h -> {
        List<String> refs = store.purgeable(h, now, now - USED_RETENTION.toMillis(), PURGE_BATCH);
        lockConvosOf(h, refs);
        int deleted = store.delete(h, refs);
        return new Batch(refs.size(), deleted, invalidate(h, refs, now));
      });
      expired += b.deleted();
      invalidated.addAll(b.invalidated());
      if (b.found() < PURGE_BATCH) {
        break;
      }
    }
    int leases = db.inTransaction(h -> store.releaseLapsedLeases(h, now));
    int consumed = db.inTransaction(h -> store.deleteConsumedBefore(h, now - CONSUMED_RETENTION.toMillis(), now));
    notifyConvos(invalidated);
    metrics.purged(expired + consumed);
    return new Purged(expired, leases, consumed, invalidated.size());
  }
}
