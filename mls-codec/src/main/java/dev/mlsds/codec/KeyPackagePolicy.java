package dev.mlsds.codec;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What {@link KeyPackageValidator} accepts beyond RFC 9420's structural rules (docs/api.md §3).
 *
 * @param maxLifetime         how far in the future {@code not_after} may lie (measured from now);
 *                            {@link #UNBOUNDED_LIFETIME} disables the rule
 * @param notBeforeSkew       how far in the future {@code not_before} may lie, for client clock skew
 * @param allowedCipherSuites cipher suite ids accepted; each must be a known {@link CipherSuite}
 * @param maxSize             largest accepted encoding in bytes, header included
 */
public record KeyPackagePolicy(Duration maxLifetime, Duration notBeforeSkew, Set<Integer> allowedCipherSuites, int maxSize) {
    public static final Duration DEFAULT_MAX_LIFETIME = Duration.ofDays(90);
    /**
     * The largest Duration, as {@code maxLifetime}: no limit. Needed because unsigned 64-bit
     * {@code not_after} values (2^64-1 is common for "forever") exceed any Duration.
     */
    public static final Duration UNBOUNDED_LIFETIME = java.time.temporal.ChronoUnit.FOREVER.getDuration();
    public static final Duration DEFAULT_NOT_BEFORE_SKEW = Duration.ofMinutes(5);
    public static final int DEFAULT_MAX_SIZE = 64 * 1024;

    public KeyPackagePolicy {
        if (maxLifetime.isNegative() || notBeforeSkew.isNegative()) {
            throw new IllegalArgumentException("maxLifetime and notBeforeSkew must not be negative");
        }
        if (maxSize <= 0) {
            throw new IllegalArgumentException("maxSize must be positive, got " + maxSize);
        }
        for (int id : allowedCipherSuites) {
            if (CipherSuite.byId(id).isEmpty()) {
                throw new IllegalArgumentException("cipher suite " + id + " is not one this codec can validate");
            }
        }
        allowedCipherSuites = Set.copyOf(allowedCipherSuites);
    }

    /** 90 days maximum lifetime, 5 minutes skew, every known cipher suite, 64 KiB. */
    public static KeyPackagePolicy defaults() {
        return new KeyPackagePolicy(DEFAULT_MAX_LIFETIME, DEFAULT_NOT_BEFORE_SKEW,
                Arrays.stream(CipherSuite.values()).map(CipherSuite::id).collect(Collectors.toSet()), DEFAULT_MAX_SIZE);
    }

    public KeyPackagePolicy withMaxLifetime(Duration value) {
        return new KeyPackagePolicy(value, notBeforeSkew, allowedCipherSuites, maxSize);
    }

    public KeyPackagePolicy withNotBeforeSkew(Duration value) {
        return new KeyPackagePolicy(maxLifetime, value, allowedCipherSuites, maxSize);
    }

    public KeyPackagePolicy withAllowedCipherSuites(Set<Integer> value) {
        return new KeyPackagePolicy(maxLifetime, notBeforeSkew, value, maxSize);
    }

    public KeyPackagePolicy withMaxSize(int value) {
        return new KeyPackagePolicy(maxLifetime, notBeforeSkew, allowedCipherSuites, value);
    }
}
