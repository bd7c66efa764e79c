package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.limits.RateLimits.Limit;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** Token buckets per named limit and key, on a clock the test moves. */
class RateLimitsTest {
  static final Did ALICE = new Did("did:plc:alice");
  static final Did BOB = new Did("did:plc:bob");

  Instant now = Instant.parse("2026-03-01T12:00:00Z");
  final Clock clock = new Clock() {
    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  };

  RateLimits limits(int perMinute, int perCaller, int perTarget) {
    Config.Limits d = Config.Limits.defaults();
    return new RateLimits(new Config.Limits(d.keyPackageMaxBytes(), d.keyPackagesPerPublish(),
        d.availableKeyPackagesPerDevice(), d.keyPackageMaxLifetime(), d.reservationLease(), d.didsPerGetKeyPackages(),
        d.membersPerConvo(), d.messageMaxBytes(), d.requestMaxBytes(), d.applicationEpochWindow(), d.welcomeGrace(),
        d.tokenMaxLifetime(), d.keyPackageLowThreshold(), perMinute, perCaller, perTarget), clock);
  }

  static void assertLimited(Runnable call, long retryAfterAtLeast) {
    assertThatThrownBy(call::run).isInstanceOfSatisfying(XrpcException.class, e -> {
      assertThat(e.error()).isEqualTo(XrpcError.RateLimitExceeded);
      assertThat(e.status()).isEqualTo(429);
      assertThat(e.retryAfterSeconds()).isGreaterThanOrEqualTo(retryAfterAtLeast);
    });
  }

  @Test
  void theNPlusFirstCallInAMinuteIsRefusedWithRetryAfter() {
    RateLimits limits = limits(5, 0, 0);
    for (int i = 0; i < 5; i++) {
      limits.check(ALICE, "blue.catbird.mls.getConvos");
    }
    assertLimited(() -> limits.check(ALICE, "blue.catbird.mls.getConvos"), 12); // one token refills in 12 s

    now = now.plus(Duration.ofSeconds(12));
    limits.check(ALICE, "blue.catbird.mls.getConvos");
    assertLimited(() -> limits.check(ALICE, "blue.catbird.mls.getConvos"), 1);
  }

  @Test
  void bucketsAreKeyedPerCallerAndPerMethod() {
    RateLimits limits = limits(1, 0, 0);
    limits.check(ALICE, "blue.catbird.mls.getConvos");
    limits.check(BOB, "blue.catbird.mls.getConvos");
    limits.check(ALICE, "blue.catbird.mls.sendMessage");
    assertLimited(() -> limits.check(ALICE, "blue.catbird.mls.getConvos"), 1);
  }

  @Test
  void namedLimitsAreSeparateAndTakeCompositeKeys() {
    RateLimits limits = limits(100, 3, 1);
    limits.check(Limit.KEY_PACKAGE_CLAIMS_PER_TARGET, ALICE, BOB);
    assertLimited(() -> limits.check(Limit.KEY_PACKAGE_CLAIMS_PER_TARGET, ALICE, BOB), 1);
    limits.check(Limit.KEY_PACKAGE_CLAIMS_PER_TARGET, BOB, ALICE);

    limits.consume(Limit.KEY_PACKAGE_CLAIMS_PER_CALLER, 3, ALICE);
    assertLimited(() -> limits.check(Limit.KEY_PACKAGE_CLAIMS_PER_CALLER, ALICE), 1);
    assertLimited(() -> limits.consume(Limit.KEY_PACKAGE_CLAIMS_PER_CALLER, 4, BOB), 60); // more than a bucket holds
    limits.check(ALICE, "blue.catbird.mls.getKeyPackages"); // the per-method bucket is untouched
  }

  @Test
  void aRateOfZeroTurnsALimitOff() {
    RateLimits limits = limits(0, 0, 0);
    for (int i = 0; i < 10_000; i++) {
      limits.check(ALICE, "blue.catbird.mls.getConvos");
    }
  }

  /** Regression (HTTP fuzzer): a rate above Bucket4j's highest refill rate made every procedure a 500. */
  @Test
  void aHugeConfiguredRateMeansNoPracticalLimitNotAnError() {
    StorageLimits d = StorageLimits.defaults();
    StorageLimits huge = new StorageLimits(d.pageMaxBytes(), d.devicesPerDid(), d.userMaxStoredBytes(),
        d.userMaxStoredMessages(), d.userMaxOpenConvos(), Long.MAX_VALUE / 4, d.messageRetention(),
        d.finishedRetention(), d.responseMemoryBytes(), d.streamCursorsPerDid());
    RateLimits limits = new RateLimits(Config.Limits.defaults(), huge, clock);
    for (int i = 0; i < 100; i++) {
      limits.checkBytes(ALICE, 10L * 1024 * 1024);
    }
    limits.consume(Limit.STORED_BYTES, RateLimits.MAX_PER_MINUTE, BOB);
  }
}
