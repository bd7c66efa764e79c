package dev.mlsds.server.keypackages;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.Map;

/**
 * KeyPackage meters (docs/api.md §8), all with bounded labels — never a user, device or conversation:
 *
 * <ul>
 *   <li>{@code mlsds_keypackages_published_total{outcome}}: per uploaded item; outcome is
 *       {@code published}, {@code duplicate}, {@code invalid} or {@code limit_reached}.</li>
 *   <li>{@code mlsds_keypackages_claims_total{outcome}}: per device served by getKeyPackages
 *       ({@code one_time}, {@code last_resort}) and per requested DID nobody could serve ({@code missing}).</li>
 *   <li>{@code mlsds_keypackages_consumed_total{kind}}: Welcomes fetched, by the kind of KeyPackage they named.</li>
 *   <li>{@code mlsds_keypackages_per_user}: a distribution of one user's available one-time KeyPackages
 *       (all devices and suites), recorded after each publish.</li>
 *   <li>{@code mlsds_keypackages_purged_total}: rows removed by maintenance.</li>
 * </ul>
 */
public final class KeyPackageMetrics {
  public enum PublishOutcome { PUBLISHED, DUPLICATE, INVALID, LIMIT_REACHED }

  public enum ClaimOutcome { ONE_TIME, LAST_RESORT, MISSING }

  private final Map<PublishOutcome, Counter> published = new EnumMap<>(PublishOutcome.class);
  private final Map<ClaimOutcome, Counter> claims = new EnumMap<>(ClaimOutcome.class);
  private final Counter consumedOneTime;
  private final Counter consumedLastResort;
  private final Counter purged;
  private final DistributionSummary perUser;

  public KeyPackageMetrics(MeterRegistry registry) {
    for (PublishOutcome o : PublishOutcome.values()) {
      published.put(o, Counter.builder("mlsds.keypackages.published").description("KeyPackages uploaded, by outcome")
          .tag("outcome", o.name().toLowerCase()).register(registry));
    }
    for (ClaimOutcome o : ClaimOutcome.values()) {
      claims.put(o, Counter.builder("mlsds.keypackages.claims")
          .description("getKeyPackages results: per device served, or per DID missing")
          .tag("outcome", o.name().toLowerCase()).register(registry));
    }
    consumedOneTime = Counter.builder("mlsds.keypackages.consumed").tag("kind", "one_time")
        .description("KeyPackages whose Welcome was fetched").register(registry);
    consumedLastResort = Counter.builder("mlsds.keypackages.consumed").tag("kind", "last_resort")
        .description("KeyPackages whose Welcome was fetched").register(registry);
    purged = Counter.builder("mlsds.keypackages.purged").description("KeyPackages removed by maintenance")
        .register(registry);
    perUser = DistributionSummary.builder("mlsds.keypackages.per_user")
        .description("available one-time KeyPackages of a user after a publish")
        .serviceLevelObjectives(1, 5, 10, 25, 50, 100, 200, 500, 1000)
        .register(registry);
  }

  void published(PublishOutcome outcome) {
    published.get(outcome).increment();
  }

  void claimed(ClaimOutcome outcome) {
    claims.get(outcome).increment();
  }

  void consumed(boolean lastResort) {
    (lastResort ? consumedLastResort : consumedOneTime).increment();
  }

  void purged(int count) {
    purged.increment(count);
  }

  void availablePerUser(long count) {
    perUser.record(count);
  }
}
