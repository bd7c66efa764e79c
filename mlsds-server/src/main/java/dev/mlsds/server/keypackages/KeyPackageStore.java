package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Dialect;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * SQL for {@code key_packages}. Every method runs on the caller's {@link Handle}, so it joins the caller's
 * transaction; times are epoch milliseconds.
 *
 * <p>Contract:
 * <ul>
 *   <li>A one-time KeyPackage is handed out by {@link #claim} at most once per lease: the claim is a
 *       single {@code UPDATE … WHERE ref = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING}, so whoever
 *       gets the row owns it, on any number of nodes (PostgreSQL), and SQLite's one writer at a time
 *       gives the same guarantee. A lapsed lease counts as available; an expired KeyPackage is never
 *       returned.</li>
 *   <li>A last-resort KeyPackage stays {@code available}: {@link #claim} returns it, unreserved, only
 *       when the device has no one-time KeyPackage; {@link #markUsed} and {@link #markConsumed} leave
 *       it as it is. At most one per (user, device, suite) is current (a unique partial index); a newer
 *       upload retires the older one ({@link #retireLastResort}).</li>
 *   <li>Everything is scoped by (DID, device): no method touches another user's rows because two users
 *       happen to share a device id.</li>
 * </ul>
 */
public final class KeyPackageStore {
  /** A validated upload, ready to insert. {@code data} is the MLSMessage-framed KeyPackage. */
  public record NewKeyPackage(String ref, Did did, DeviceId deviceId, CipherSuite cipherSuite, byte[] data,
      boolean lastResort, long notAfter) {}

  /** Available one-time KeyPackages of one device in one suite. */
  public record AvailableCount(DeviceId deviceId, CipherSuite cipherSuite, int count) {}

  /** One row of {@link #status}. {@code oldestExpiresAt} is null when nothing can be handed out. */
  public record DeviceStatus(DeviceId deviceId, CipherSuite cipherSuite, int available, int reserved,
      boolean lastResort, int consumedLast24h, Instant oldestExpiresAt) {}

  private static final String COLUMNS = """
      ref, did, device_id, cipher_suite, last_resort, state, reserved_by, reserved_until, not_after, convo_id,
      replaced_at""";
  /** One-time, unexpired, and available or reserved under a lapsed lease. */
  private static final String CLAIMABLE = """
      NOT last_resort AND not_after > :now
      AND (state = 'available' OR (state = 'reserved' AND reserved_until <= :now))""";

  private final Dialect dialect;
  private final KeyPackageMetrics metrics;
  private final String claimOneTime;

  public KeyPackageStore(Dialect dialect, KeyPackageMetrics metrics) {
    this.dialect = dialect;
    this.metrics = metrics;
    this.claimOneTime = CLAIM_ONE_TIME.formatted(dialect.forUpdateSkipLocked());
  }

  // ---- The API for accepting and delivering Welcomes (docs/api.md §4, §6) -------------------------------

  private static final String FIND = "SELECT " + COLUMNS + " FROM key_packages WHERE ref = :ref";

  /**
   * The KeyPackage with this KeyPackageRef (lowercase hex), row-locked on PostgreSQL until the
   * transaction ends, so a check such as {@link StoredKeyPackage#usableBy} still holds at
   * {@link #markUsed}.
   */
  public Optional<StoredKeyPackage> find(Handle h, String ref) {
    return h.createQuery(FIND + dialect.forUpdate()).bind("ref", ref)
        .map((rs, ctx) -> stored(rs)).findFirst();
  }

  private static final String MARK_USED = """
      UPDATE key_packages SET state = 'used', convo_id = :convo, used_at = :now, reserved_by = NULL,
        reserved_until = NULL
      WHERE ref = :ref AND NOT last_resort AND state IN ('available', 'reserved')""";
  private static final String IS_CURRENT_LAST_RESORT = """
      SELECT COUNT(*) FROM key_packages
      WHERE ref = :ref AND last_resort AND replaced_at IS NULL AND state = 'available'""";

  /**
   * An accepted Welcome names this KeyPackage: a one-time KeyPackage (available or reserved) becomes
   * {@code used} by {@code convoId}; a current last-resort KeyPackage stays available. Returns false when
   * neither applies (unknown, already used or consumed, or a retired last-resort one).
   */
  public boolean markUsed(Handle h, String ref, String convoId, long now) {
    int updated = h.createUpdate(MARK_USED).bind("ref", ref).bind("convo", convoId).bind("now", now).execute();
    return updated == 1 || h.createQuery(IS_CURRENT_LAST_RESORT).bind("ref", ref).mapTo(Integer.class).one() == 1;
  }

  private static final String MARK_CONSUMED = """
      UPDATE key_packages SET state = 'consumed', consumed_at = :now
      WHERE ref = :ref AND NOT last_resort AND state = 'used'""";
  private static final String IS_LAST_RESORT = "SELECT COUNT(*) FROM key_packages WHERE ref = :ref AND last_resort";

  /**
   * The Welcome naming this KeyPackage was fetched by its device: a {@code used} one-time KeyPackage
   * becomes {@code consumed}; a last-resort one is never consumed and stays as it is. Returns false when
   * the KeyPackage does not exist or was not {@code used}.
   */
  public boolean markConsumed(Handle h, String ref, long now) {
    if (h.createUpdate(MARK_CONSUMED).bind("ref", ref).bind("now", now).execute() == 1) {
      metrics.consumed(false);
      return true;
    }
    if (h.createQuery(IS_LAST_RESORT).bind("ref", ref).mapTo(Integer.class).one() == 1) {
      metrics.consumed(true);
      return true;
    }
    return false;
  }

  // ---- Publishing -----------------------------------------------------------------------------------

  private static final String LOCK_DEVICE = "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))) l";

  /**
   * Serializes publishers of one device until the transaction ends, so the per-device limit and the
   * last-resort replacement hold under concurrency. SQLite needs nothing: its writers are serialized.
   */
  public void lockDevice(Handle h, Did did, DeviceId deviceId) {
    if (dialect == Dialect.POSTGRES) {
      h.createQuery(LOCK_DEVICE).bind("key", "key_packages " + did.value() + " " + deviceId.value())
          .mapTo(Integer.class).one();
    }
  }

  private static final String EXISTS = "SELECT COUNT(*) FROM key_packages WHERE ref = :ref";

  public boolean exists(Handle h, String ref) {
    return h.createQuery(EXISTS).bind("ref", ref).mapTo(Integer.class).one() > 0;
  }

  private static final String DEVICES_HOLDING = """
      SELECT DISTINCT device_id FROM key_packages
      WHERE did = :did AND not_after > :now AND state IN ('available', 'reserved') AND replaced_at IS NULL""";

  /** The devices of {@code did} that hold a KeyPackage someone could still claim (one-time or last resort). */
  public List<String> devicesHolding(Handle h, Did did, long now) {
    return h.createQuery(DEVICES_HOLDING).bind("did", did.value()).bind("now", now).mapTo(String.class).list();
  }

  private static final String COUNT_HELD = """
      SELECT COUNT(*) FROM key_packages
      WHERE did = :did AND device_id = :device AND NOT last_resort AND not_after > :now
        AND state IN ('available', 'reserved')""";

  /**
   * One-time KeyPackages of the device, all suites, not yet named by a Welcome: available or reserved
   * (a reservation returns to available if its lease lapses, so it counts toward the per-device limit).
   */
  public int countHeld(Handle h, Did did, DeviceId deviceId, long now) {
    return h.createQuery(COUNT_HELD).bind("did", did.value()).bind("device", deviceId.value()).bind("now", now)
        .mapTo(Integer.class).one();
  }

  private static final String RETIRE_LAST_RESORT = """
      UPDATE key_packages SET replaced_at = :now
      WHERE did = :did AND device_id = :device AND cipher_suite = :suite AND last_resort AND replaced_at IS NULL""";

  /** Retires the device's current last-resort KeyPackage in {@code suite}, if any, before a newer one is inserted. */
  public int retireLastResort(Handle h, Did did, DeviceId deviceId, CipherSuite suite, long now) {
    return h.createUpdate(RETIRE_LAST_RESORT).bind("did", did.value()).bind("device", deviceId.value())
        .bind("suite", suite.id()).bind("now", now).execute();
  }

  private static final String INSERT = """
      INSERT INTO key_packages (ref, did, device_id, cipher_suite, data, last_resort, state, not_after, created_at)
      VALUES (:ref, :did, :device, :suite, :data, :lastResort, 'available', :notAfter, :now)""";

  public void insert(Handle h, NewKeyPackage kp, long now) {
    h.createUpdate(INSERT).bind("ref", kp.ref()).bind("did", kp.did().value()).bind("device", kp.deviceId().value())
        .bind("suite", kp.cipherSuite().id()).bind("data", kp.data()).bind("lastResort", kp.lastResort())
        .bind("notAfter", kp.notAfter()).bind("now", now).execute();
    recordDeviceKey(h, kp, now);
  }

  private static final String INSERT_DEVICE_KEY = """
      INSERT INTO device_signature_keys (did, signature_key, device_id, created_at) VALUES (:did, :key, :device, :now)
      ON CONFLICT (did, signature_key) DO NOTHING""";

  /** Remembers the KeyPackage's signature key as one of its DID's device keys (kept after the KeyPackage goes). */
  private void recordDeviceKey(Handle h, NewKeyPackage kp, long now) {
    byte[] key;
    try {
      key = dev.mlsds.codec.KeyPackage.decode(kp.data()).leafNode().signatureKey();
    } catch (dev.mlsds.codec.MlsDecodeException e) {
      return; // stored KeyPackages were validated; nothing to learn from one that does not decode
    }
    h.createUpdate(INSERT_DEVICE_KEY).bind("did", kp.did().value()).bind("key", key)
        .bind("device", kp.deviceId().value()).bind("now", now).execute();
  }

  /**
   * The signature keys of {@code did}'s devices the server knows: those recorded from its uploads, and those of
   * the KeyPackages it still stores (uploads from before the record existed). Empty: the server does not know
   * this DID's devices.
   */
  public List<byte[]> deviceSignatureKeys(Handle h, Did did) {
    List<byte[]> keys = new java.util.ArrayList<>(h.createQuery("SELECT signature_key FROM device_signature_keys WHERE did = :did")
        .bind("did", did.value()).mapTo(byte[].class).list());
    for (byte[] data : h.createQuery("SELECT data FROM key_packages WHERE did = :did").bind("did", did.value())
        .mapTo(byte[].class).list()) {
      try {
        keys.add(dev.mlsds.codec.KeyPackage.decode(data).leafNode().signatureKey());
      } catch (dev.mlsds.codec.MlsDecodeException e) {
        // skip: not a key we can learn
      }
    }
    return keys;
  }

  private static final String AVAILABLE_COUNTS = """
      SELECT device_id, cipher_suite, COUNT(*) AS n FROM key_packages
      WHERE did = :did AND %s
      GROUP BY device_id, cipher_suite ORDER BY device_id, cipher_suite""".formatted(CLAIMABLE);

  /** Available one-time KeyPackages of every device of {@code did}, per device and suite. */
  public List<AvailableCount> availableCounts(Handle h, Did did, long now) {
    return h.createQuery(AVAILABLE_COUNTS).bind("did", did.value()).bind("now", now)
        .map((rs, ctx) -> new AvailableCount(new DeviceId(rs.getString("device_id")),
            suite(rs.getInt("cipher_suite")), rs.getInt("n")))
        .list();
  }

  // ---- Claiming (getKeyPackages) --------------------------------------------------------------------

  private static final String DEVICES = """
      SELECT DISTINCT device_id FROM key_packages
      WHERE did = :did AND cipher_suite = :suite AND not_after > :now AND state IN ('available', 'reserved')
      ORDER BY device_id""";

  private static final String MARK_LEGACY = "UPDATE key_packages SET legacy_upload = TRUE WHERE ref = :ref AND did = :did";
  private static final String LEGACY_DEVICES = """
      SELECT device_id FROM key_packages
      WHERE did = :did AND cipher_suite = :suite AND legacy_upload AND not_after > :now AND state IN ('available', 'reserved')
      GROUP BY device_id ORDER BY MIN(created_at), device_id""";
  private static final String DEVICE_GROUPS = """
      SELECT COUNT(DISTINCT CASE WHEN legacy_upload THEN '' ELSE device_id END) FROM key_packages WHERE did = :did""";

  /** Records that this KeyPackage came through the single-item publishKeyPackage (a 2025 client). */
  public void markLegacyUpload(Handle h, Did did, String ref) {
    h.createUpdate(MARK_LEGACY).bind("ref", ref).bind("did", did.value()).execute();
  }

  /** Devices of {@code did} known only from legacy uploads that may hand out something in {@code suite}, oldest first. */
  public List<DeviceId> legacyDevices(Handle h, Did did, CipherSuite suite, long now) {
    return h.createQuery(LEGACY_DEVICES).bind("did", did.value()).bind("suite", suite.id()).bind("now", now)
        .map((rs, ctx) -> new DeviceId(rs.getString("device_id"))).list();
  }

  /** How many devices {@code did} has among its stored KeyPackages, all legacy uploads counting as one. */
  public int deviceGroups(Handle h, Did did) {
    return h.createQuery(DEVICE_GROUPS).bind("did", did.value()).mapTo(Integer.class).one();
  }

  private static final String PEEK_ONE_TIME = """
      SELECT ref, data FROM key_packages
      WHERE did = :did AND device_id = :device AND cipher_suite = :suite AND %s
      ORDER BY created_at, ref LIMIT 1""".formatted(CLAIMABLE);

  /**
   * What {@link #claim} would hand out, changing nothing: the oldest claimable one-time KeyPackage (as a
   * {@link Claim.OneTime} with {@code reservedUntil} null: not reserved), else the last-resort one, else nothing.
   */
  public Claim peek(Handle h, Did did, DeviceId deviceId, CipherSuite suite, long now) {
    Optional<Claim.Handed> oneTime = h.createQuery(PEEK_ONE_TIME)
        .bind("did", did.value()).bind("device", deviceId.value()).bind("suite", suite.id()).bind("now", now)
        .map((rs, ctx) -> new Claim.Handed(rs.getString("ref"), deviceId, suite, rs.getBytes("data")))
        .findFirst();
    if (oneTime.isPresent()) {
      return new Claim.OneTime(oneTime.get(), null);
    }
    return h.createQuery(LAST_RESORT)
        .bind("did", did.value()).bind("device", deviceId.value()).bind("suite", suite.id()).bind("now", now)
        .map((rs, ctx) -> new Claim.Handed(rs.getString("ref"), deviceId, suite, rs.getBytes("data")))
        .findFirst().<Claim>map(Claim.LastResort::new).orElseGet(Claim.Nothing::new);
  }

  /** Devices of {@code did} that may have something to hand out in {@code suite}. */
  public List<DeviceId> candidateDevices(Handle h, Did did, CipherSuite suite, long now) {
    return h.createQuery(DEVICES).bind("did", did.value()).bind("suite", suite.id()).bind("now", now)
        .map((rs, ctx) -> new DeviceId(rs.getString("device_id"))).list();
  }

  // Whoever gets the row owns it: the inner SELECT locks one claimable row, skipping rows that another
  // transaction holds (PostgreSQL re-checks the WHERE clause on the row's latest version before locking),
  // and the UPDATE reserves exactly that row.
  private static final String CLAIM_ONE_TIME = """
      UPDATE key_packages SET state = 'reserved', reserved_by = :claimer, reserved_until = :until
      WHERE ref = (
        SELECT ref FROM key_packages
        WHERE did = :did AND device_id = :device AND cipher_suite = :suite AND %s
        ORDER BY created_at, ref LIMIT 1%%s)
      RETURNING ref, data""".formatted(CLAIMABLE);
  private static final String LAST_RESORT = """
      SELECT ref, data FROM key_packages
      WHERE did = :did AND device_id = :device AND cipher_suite = :suite AND last_resort AND replaced_at IS NULL
        AND state = 'available' AND not_after > :now
      ORDER BY created_at DESC LIMIT 1""";

  /**
   * Claims one KeyPackage of the device for {@code claimer}: the oldest claimable one-time KeyPackage,
   * reserved until {@code leaseUntil}; else the current last-resort one, unreserved; else nothing.
   */
  public Claim claim(Handle h, Did did, DeviceId deviceId, CipherSuite suite, Did claimer, long now, long leaseUntil) {
    Optional<Claim.Handed> oneTime = h.createQuery(claimOneTime)
        .bind("did", did.value()).bind("device", deviceId.value()).bind("suite", suite.id()).bind("now", now)
        .bind("claimer", claimer.value()).bind("until", leaseUntil)
        .map((rs, ctx) -> new Claim.Handed(rs.getString("ref"), deviceId, suite, rs.getBytes("data")))
        .findFirst();
    if (oneTime.isPresent()) {
      return new Claim.OneTime(oneTime.get(), Instant.ofEpochMilli(leaseUntil));
    }
    Optional<Claim.Handed> lastResort = h.createQuery(LAST_RESORT)
        .bind("did", did.value()).bind("device", deviceId.value()).bind("suite", suite.id()).bind("now", now)
        .map((rs, ctx) -> new Claim.Handed(rs.getString("ref"), deviceId, suite, rs.getBytes("data")))
        .findFirst();
    return lastResort.<Claim>map(Claim.LastResort::new).orElseGet(Claim.Nothing::new);
  }

  private static final String COUNT_AVAILABLE = """
      SELECT COUNT(*) FROM key_packages
      WHERE did = :did AND device_id = :device AND cipher_suite = :suite AND %s""".formatted(CLAIMABLE);

  /** Available one-time KeyPackages of one device in one suite (lapsed leases included). */
  public int countAvailable(Handle h, Did did, DeviceId deviceId, CipherSuite suite, long now) {
    return h.createQuery(COUNT_AVAILABLE).bind("did", did.value()).bind("device", deviceId.value())
        .bind("suite", suite.id()).bind("now", now).mapTo(Integer.class).one();
  }

  // ---- Status (getKeyPackageStatus) -----------------------------------------------------------------

  private static final String STATUS = """
      SELECT device_id, cipher_suite,
        SUM(CASE WHEN %s THEN 1 ELSE 0 END) AS available,
        SUM(CASE WHEN NOT last_resort AND not_after > :now AND state = 'reserved' AND reserved_until > :now
            THEN 1 ELSE 0 END) AS reserved,
        SUM(CASE WHEN last_resort AND replaced_at IS NULL AND state = 'available' AND not_after > :now
            THEN 1 ELSE 0 END) AS last_resort,
        SUM(CASE WHEN state = 'consumed' AND consumed_at > :dayAgo THEN 1 ELSE 0 END) AS consumed,
        MIN(CASE WHEN state IN ('available', 'reserved') AND replaced_at IS NULL AND not_after > :now
            THEN not_after END) AS oldest
      FROM key_packages
      WHERE did = :did AND (:suite < 0 OR cipher_suite = :suite)
        AND (not_after > :now OR (state = 'consumed' AND consumed_at > :dayAgo))
      GROUP BY device_id, cipher_suite ORDER BY device_id, cipher_suite""".formatted(CLAIMABLE);

  /**
   * Per (device, suite) of {@code did} with an unexpired KeyPackage or one consumed in the last 24 h:
   * available and reserved one-time KeyPackages, whether a current last-resort one exists, consumptions in
   * the last 24 h, and the soonest expiry among those that can be handed out. {@code suite} filters.
   */
  public List<DeviceStatus> status(Handle h, Did did, Optional<CipherSuite> suite, long now) {
    return h.createQuery(STATUS).bind("did", did.value()).bind("suite", suite.map(CipherSuite::id).orElse(-1))
        .bind("now", now).bind("dayAgo", now - 24L * 3600 * 1000)
        .map((rs, ctx) -> {
          long oldest = rs.getLong("oldest");
          Instant oldestAt = rs.wasNull() ? null : Instant.ofEpochMilli(oldest);
          return new DeviceStatus(new DeviceId(rs.getString("device_id")), suite(rs.getInt("cipher_suite")),
              rs.getInt("available"), rs.getInt("reserved"), rs.getInt("last_resort") > 0, rs.getInt("consumed"),
              oldestAt);
        })
        .list();
  }

  // ---- Sync (syncKeyPackages) -----------------------------------------------------------------------

  private static final String DEVICE_REFS = """
      SELECT ref FROM key_packages WHERE did = :did AND device_id = :device AND state <> 'consumed'
      ORDER BY ref""";

  /** The device's KeyPackageRefs that are not consumed, row-locked on PostgreSQL. */
  /** As {@link #unconsumedRefs}, without locking the rows. */
  public List<String> unconsumedRefsUnlocked(Handle h, Did did, DeviceId deviceId) {
    return h.createQuery(DEVICE_REFS).bind("did", did.value()).bind("device", deviceId.value()).mapTo(String.class)
        .list();
  }

  public List<String> unconsumedRefs(Handle h, Did did, DeviceId deviceId) {
    return h.createQuery(DEVICE_REFS + dialect.forUpdate()).bind("did", did.value())
        .bind("device", deviceId.value()).mapTo(String.class).list();
  }

  private static final String DELETE = "DELETE FROM key_packages WHERE ref IN (<refs>)";
  private static final int CHUNK = 500;

  /** Deletes these KeyPackages; returns how many existed. */
  public int delete(Handle h, Collection<String> refs) {
    List<String> all = List.copyOf(refs);
    int deleted = 0;
    for (int i = 0; i < all.size(); i += CHUNK) {
      deleted += h.createUpdate(DELETE).bindList("refs", all.subList(i, Math.min(all.size(), i + CHUNK))).execute();
    }
    return deleted;
  }

  // ---- Maintenance ----------------------------------------------------------------------------------

  private static final String EXPIRED = """
      SELECT ref FROM key_packages
      WHERE (state IN ('available', 'reserved') AND not_after <= :now)
         OR (state = 'used' AND not_after <= :usedBefore)
      ORDER BY not_after LIMIT :limit""";

  /**
   * Up to {@code limit} KeyPackages to purge: expired ones that were never named by a Welcome (last-resort
   * ones included), and used ones expired before {@code usedBefore} whose Welcome was never fetched.
   */
  public List<String> purgeable(Handle h, long now, long usedBefore, int limit) {
    return h.createQuery(EXPIRED).bind("now", now).bind("usedBefore", usedBefore).bind("limit", limit)
        .mapTo(String.class).list();
  }

  private static final String RELEASE_LEASES = """
      UPDATE key_packages SET state = 'available', reserved_by = NULL, reserved_until = NULL
      WHERE state = 'reserved' AND reserved_until <= :now""";

  /** Returns lapsed reservations to {@code available} (claims already treat them so; this tidies the rows). */
  public int releaseLapsedLeases(Handle h, long now) {
    return h.createUpdate(RELEASE_LEASES).bind("now", now).execute();
  }

  private static final String DELETE_CONSUMED = """
      DELETE FROM key_packages WHERE state = 'consumed' AND consumed_at < :before AND not_after <= :now""";

  /**
   * Deletes KeyPackages consumed before {@code before} that have also expired: while unexpired, the row is
   * what makes a re-upload of the same bytes a duplicate instead of a second use.
   */
  public int deleteConsumedBefore(Handle h, long before, long now) {
    return h.createUpdate(DELETE_CONSUMED).bind("before", before).bind("now", now).execute();
  }

  // ---- Row mapping ----------------------------------------------------------------------------------

  private static StoredKeyPackage stored(ResultSet rs) throws SQLException {
    String reservedBy = rs.getString("reserved_by");
    long until = rs.getLong("reserved_until");
    Instant reservedUntil = rs.wasNull() ? null : Instant.ofEpochMilli(until);
    rs.getLong("replaced_at");
    boolean replaced = !rs.wasNull();
    return new StoredKeyPackage(rs.getString("ref"), new Did(rs.getString("did")),
        new DeviceId(rs.getString("device_id")), suite(rs.getInt("cipher_suite")), rs.getBoolean("last_resort"),
        KeyPackageState.fromColumn(rs.getString("state")), reservedBy == null ? null : new Did(reservedBy),
        reservedUntil, Instant.ofEpochMilli(rs.getLong("not_after")), rs.getString("convo_id"), replaced);
  }

  private static CipherSuite suite(int id) {
    return CipherSuite.byId(id).orElseThrow(() -> new IllegalStateException("stored unknown cipher suite " + id));
  }
}
