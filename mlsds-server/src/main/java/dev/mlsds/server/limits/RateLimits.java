package dev.mlsds.server.limits;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.ToIntFunction;
import java.util.function.ToLongBiFunction;

/**
 * Every rate limit of the service, as data: a {@link Limit} names a token bucket (capacity = the
 * configured per-minute rate, refilled continuously over a minute) and each distinct key gets its own
 * bucket. Features call {@link #check(Limit, Object...)} with the parts of their key, e.g.
 * {@code limits.check(Limit.KEY_PACKAGE_CLAIMS_PER_TARGET, caller, target)}; a refusal is a 429
 * {@code RateLimitExceeded} whose {@code Retry-After} is the wait until enough tokens are back.
 *
 * <p>Buckets live in this node's memory (a bounded cache): with N nodes a caller gets at most N times the
 * rate, which is what a per-node limit is for (protecting the node and its database). A bucket untouched
 * for longer than its refill time is full again, so dropping it after {@link #IDLE_EVICTION} changes
 * nothing. A rate of 0 or less turns a limit off.
 */
public final class RateLimits implements RateLimiter {
  /** The named buckets and the setting each one's per-minute rate comes from. */
  public enum Limit {
    /** Every XRPC call, keyed by (caller DID, NSID); applied by the router to every method. */
    XRPC_CALL(Config.Limits::rateLimitPerMinute),
    /** KeyPackages claimed through getKeyPackages, keyed by caller DID. */
    KEY_PACKAGE_CLAIMS_PER_CALLER(Config.Limits::keyPackageClaimsPerCallerPerMinute),
    /** KeyPackages claimed through getKeyPackages, keyed by (caller DID, target DID). */
    KEY_PACKAGE_CLAIMS_PER_TARGET(Config.Limits::keyPackageClaimsPerTargetPerMinute),
    /**
     * Bytes of request bodies a caller submits to procedures (the methods that store bytes), keyed by
     * caller DID, all methods together: a per-call rate alone let one identity store 60 MB/s (H4).
     */
    STORED_BYTES((l, s) -> s.storedBytesPerMinute());

    private final ToLongBiFunction<Config.Limits, StorageLimits> perMinute;

    Limit(ToIntFunction<Config.Limits> perMinute) {
      this((l, s) -> perMinute.applyAsInt(l));
    }

    Limit(ToLongBiFunction<Config.Limits, StorageLimits> perMinute) {
      this.perMinute = perMinute;
    }
  }

  static final Duration IDLE_EVICTION = Duration.ofMinutes(2);
  /**
   * The highest rate a bucket can refill at (Bucket4j: one token per nanosecond). A configured rate above it
   * (e.g. {@code MLSDS_RATE_LIMIT_BYTES_PER_MINUTE} set huge to mean "no limit") is this rate: found by the
   * HTTP fuzzer, such a setting made every procedure a 500.
   */
  static final long MAX_PER_MINUTE = Duration.ofMinutes(1).toNanos();
  private static final int MAX_BUCKETS = 500_000;

  private record Key(Limit limit, String key) {}

  private final Map<Limit, Long> perMinute = new EnumMap<>(Limit.class);
  private final TimeMeter time;
  private final Cache<Key, Bucket> buckets = Caffeine.newBuilder()
      .maximumSize(MAX_BUCKETS).expireAfterAccess(IDLE_EVICTION).build();

  public RateLimits(Config.Limits limits, Clock clock) {
    this(limits, StorageLimits.defaults(), clock);
  }

  public RateLimits(Config.Limits limits, StorageLimits storage, Clock clock) {
    for (Limit l : Limit.values()) {
      perMinute.put(l, Math.min(MAX_PER_MINUTE, l.perMinute.applyAsLong(limits, storage)));
    }
    this.time = new TimeMeter() {
      @Override
      public long currentTimeNanos() {
        return Math.multiplyExact(clock.millis(), 1_000_000L);
      }

      @Override
      public boolean isWallClockBased() {
        return true;
      }
    };
  }

  /** The router's check: one call of {@code nsid} by {@code caller}. */
  @Override
  public void check(Did caller, String nsid) {
    check(Limit.XRPC_CALL, caller, nsid);
  }

  /** Takes one token from the bucket of {@code limit} for the key made of {@code keyParts}, or throws 429. */
  public void check(Limit limit, Object... keyParts) {
    consume(limit, 1, keyParts);
  }

  /** The router's byte check: a procedure body of {@code bytes} from {@code caller}. */
  @Override
  public void checkBytes(Did caller, long bytes) {
    consume(Limit.STORED_BYTES, bytes, caller);
  }

  /** Takes {@code tokens} at once (a batch counts as its size), or none and throws 429. */
  public void consume(Limit limit, long tokens, Object... keyParts) {
    long rate = perMinute.get(limit);
    if (rate <= 0 || tokens <= 0) {
      return;
    }
    if (tokens > rate) {
      throw refused(limit, Duration.ofMinutes(1).toSeconds());
    }
    Bucket bucket = buckets.get(new Key(limit, key(keyParts)), k -> Bucket.builder()
        .addLimit(l -> l.capacity(rate).refillGreedy(rate, Duration.ofMinutes(1)))
        .withCustomTimePrecision(time)
        .build());
    ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(tokens);
    if (!probe.isConsumed()) {
      long seconds = Math.max(1, (probe.getNanosToWaitForRefill() + 999_999_999L) / 1_000_000_000L);
      throw refused(limit, seconds);
    }
  }

  private static XrpcException refused(Limit limit, long retryAfterSeconds) {
    return new XrpcException(XrpcError.RateLimitExceeded, "rate limit exceeded (" + limit.name()
        + "); retry in " + retryAfterSeconds + " s", Map.of(), retryAfterSeconds);
  }

  // DIDs and NSIDs contain no spaces, so joining with one is unambiguous
  private static String key(Object... parts) {
    StringBuilder sb = new StringBuilder();
    for (Object p : parts) {
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      sb.append(p);
    }
    return sb.toString();
  }
}
