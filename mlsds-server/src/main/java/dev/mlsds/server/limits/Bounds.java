package dev.mlsds.server.limits;

import java.time.Duration;

/**
 * The resource bounds of one node (issue 11): CPU for KeyPackage validation, requests in flight per
 * caller, outbound DID resolution, the free disk a node needs to call itself ready, SQLite durability,
 * and the {@code Retry-After} of a 503. Each has an {@code MLSDS_*} variable (README, docs/limits.md).
 *
 * @param validationThreads         platform threads that validate KeyPackages; virtual-thread carriers are
 *                                  never all taken by signature checks (default: half the cores, at least 1)
 * @param validationQueue           validations waiting for a thread before the next is refused with 503
 * @param inFlightPerCaller         XRPC requests one caller DID may have running at once on a node (429 beyond)
 * @param didFetchConcurrency       DID documents fetched at once; a resolution that would exceed it is a 503
 * @param didFailuresPerAddressPerMinute requests from one source address per minute whose token fails
 *                                  or needs a fresh DID fetch; beyond it 429 (0 turns it off)
 * @param didNegativeCacheSize      DIDs remembered as unresolvable, kept apart from the resolved keys
 * @param minFreeDiskBytes          free bytes on the SQLite file's volume below which the node is not ready
 * @param sqliteSynchronous         {@code FULL} (every acknowledged commit survives power loss) or {@code NORMAL}
 * @param unavailableRetryAfter     {@code Retry-After} of a 503 for a database fault
 * @param trustedProxies            addresses and CIDR blocks of reverse proxies whose {@code X-Forwarded-For}
 *                                  names the client (empty: the header is ignored; {@link TrustedProxies})
 * @param databasePoolSize          database connections of the node's pool (0: 16 on PostgreSQL, 8 on SQLite)
 */
public record Bounds(
    int validationThreads,
    int validationQueue,
    int inFlightPerCaller,
    int didFetchConcurrency,
    int didFailuresPerAddressPerMinute,
    int didNegativeCacheSize,
    long minFreeDiskBytes,
    String sqliteSynchronous,
    Duration unavailableRetryAfter,
    java.util.List<String> trustedProxies,
    int databasePoolSize) {

  public Bounds {
    trustedProxies = java.util.List.copyOf(trustedProxies);
  }

  public static Bounds defaults() {
    return new Bounds(Math.max(1, Runtime.getRuntime().availableProcessors() / 2), 256, 32, 16, 120, 10_000,
        64L * 1024 * 1024, "FULL", Duration.ofSeconds(5), java.util.List.of(), 0);
  }

  /** The problems with these values, each naming the variable to change (empty when fine). */
  public java.util.List<String> problems() {
    java.util.List<String> out = new java.util.ArrayList<>();
    if (validationThreads < 1) {
      out.add("MLSDS_VALIDATION_THREADS must be at least 1");
    }
    if (inFlightPerCaller < 1) {
      out.add("MLSDS_IN_FLIGHT_PER_CALLER must be at least 1");
    }
    if (didFetchConcurrency < 1) {
      out.add("MLSDS_DID_FETCH_CONCURRENCY must be at least 1");
    }
    if (!sqliteSynchronous.equals("FULL") && !sqliteSynchronous.equals("NORMAL")) {
      out.add("MLSDS_SQLITE_SYNCHRONOUS must be FULL or NORMAL");
    }
    try {
      TrustedProxies.parse(trustedProxies);
    } catch (IllegalArgumentException e) {
      out.add(e.getMessage());
    }
    if (databasePoolSize < 0 || databasePoolSize > 1000) {
      out.add("MLSDS_DATABASE_POOL_SIZE must be 0 (the backend's default) to 1000");
    }
    return out;
  }

  public Bounds withValidationThreads(int v) {
    return new Bounds(v, validationQueue, inFlightPerCaller, didFetchConcurrency, didFailuresPerAddressPerMinute,
        didNegativeCacheSize, minFreeDiskBytes, sqliteSynchronous, unavailableRetryAfter,
        trustedProxies, databasePoolSize);
  }

  public Bounds withInFlightPerCaller(int v) {
    return new Bounds(validationThreads, validationQueue, v, didFetchConcurrency, didFailuresPerAddressPerMinute,
        didNegativeCacheSize, minFreeDiskBytes, sqliteSynchronous, unavailableRetryAfter,
        trustedProxies, databasePoolSize);
  }

  public Bounds withDid(int fetchConcurrency, int failuresPerAddressPerMinute, int negativeCacheSize) {
    return new Bounds(validationThreads, validationQueue, inFlightPerCaller, fetchConcurrency,
        failuresPerAddressPerMinute, negativeCacheSize, minFreeDiskBytes, sqliteSynchronous, unavailableRetryAfter,
        trustedProxies, databasePoolSize);
  }

  public Bounds withMinFreeDiskBytes(long v) {
    return new Bounds(validationThreads, validationQueue, inFlightPerCaller, didFetchConcurrency,
        didFailuresPerAddressPerMinute, didNegativeCacheSize, v, sqliteSynchronous, unavailableRetryAfter,
        trustedProxies, databasePoolSize);
  }

  public Bounds withSqliteSynchronous(String v) {
    return new Bounds(validationThreads, validationQueue, inFlightPerCaller, didFetchConcurrency,
        didFailuresPerAddressPerMinute, didNegativeCacheSize, minFreeDiskBytes, v, unavailableRetryAfter,
        trustedProxies, databasePoolSize);
  }

  public Bounds withTrustedProxies(java.util.List<String> v) {
    return new Bounds(validationThreads, validationQueue, inFlightPerCaller, didFetchConcurrency,
        didFailuresPerAddressPerMinute, didNegativeCacheSize, minFreeDiskBytes, sqliteSynchronous,
        unavailableRetryAfter, v, databasePoolSize);
  }

  public Bounds withDatabasePoolSize(int v) {
    return new Bounds(validationThreads, validationQueue, inFlightPerCaller, didFetchConcurrency,
        didFailuresPerAddressPerMinute, didNegativeCacheSize, minFreeDiskBytes, sqliteSynchronous,
        unavailableRetryAfter, trustedProxies, v);
  }

  /** The parsed {@link #trustedProxies}; the configuration was validated, so they parse. */
  public TrustedProxies proxies() {
    return TrustedProxies.parse(trustedProxies);
  }
}
