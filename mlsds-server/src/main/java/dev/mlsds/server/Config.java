package dev.mlsds.server;

import dev.mlsds.server.limits.Bounds;
import dev.mlsds.server.limits.StorageLimits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The whole server configuration, validated once by {@link #validate()} and immutable afterwards.
 *
 * <p>Defaults are the dev profile: embedded SQLite under {@code dataDir}, loopback bind, {@code did:key}
 * tokens allowed. The prod profile refuses to start on anything a production node must not run with
 * (no service DID, no PostgreSQL, did:key, a public bind without a metrics token...): see {@link #validate()}.
 */
public record Config(
    Profile profile,
    String bind,
    int port,
    Path dataDir,
    String databaseUrl,
    String serviceDid,
    boolean allowDidKey,
    String plcUrl,
    List<String> didWebAllowedInsecureHosts,
    String metricsToken,
    Limits limits,
    StorageLimits storage,
    Bounds bounds,
    List<String> delegatingIssuers) {

  /**
   * A configuration without delegating issuers ({@code MLSDS_DELEGATING_ISSUERS}: gateway DIDs whose
   * tokens name the user in {@code sub}; docs/auth.md).
   */
  public Config(Profile profile, String bind, int port, Path dataDir, String databaseUrl, String serviceDid,
      boolean allowDidKey, String plcUrl, List<String> didWebAllowedInsecureHosts, String metricsToken, Limits limits,
      StorageLimits storage, Bounds bounds) {
    this(profile, bind, port, dataDir, databaseUrl, serviceDid, allowDidKey, plcUrl, didWebAllowedInsecureHosts,
        metricsToken, limits, storage, bounds, List.of());
  }

  /** A configuration with the default storage limits and resource bounds. */
  public Config(Profile profile, String bind, int port, Path dataDir, String databaseUrl, String serviceDid,
      boolean allowDidKey, String plcUrl, List<String> didWebAllowedInsecureHosts, String metricsToken, Limits limits) {
    this(profile, bind, port, dataDir, databaseUrl, serviceDid, allowDidKey, plcUrl, didWebAllowedInsecureHosts,
        metricsToken, limits, StorageLimits.defaults(), Bounds.defaults());
  }

  /** A configuration with the default resource bounds. */
  public Config(Profile profile, String bind, int port, Path dataDir, String databaseUrl, String serviceDid,
      boolean allowDidKey, String plcUrl, List<String> didWebAllowedInsecureHosts, String metricsToken, Limits limits,
      StorageLimits storage) {
    this(profile, bind, port, dataDir, databaseUrl, serviceDid, allowDidKey, plcUrl, didWebAllowedInsecureHosts,
        metricsToken, limits, storage, Bounds.defaults());
  }

  /** This configuration with other storage limits. */
  public Config withStorage(StorageLimits storage) {
    return new Config(profile, bind, port, dataDir, databaseUrl, serviceDid, allowDidKey, plcUrl,
        didWebAllowedInsecureHosts, metricsToken, limits, storage, bounds, delegatingIssuers);
  }

  /** This configuration with other resource bounds. */
  public Config withBounds(Bounds b) {
    return new Config(profile, bind, port, dataDir, databaseUrl, serviceDid, allowDidKey, plcUrl,
        didWebAllowedInsecureHosts, metricsToken, limits, storage, b, delegatingIssuers);
  }

  /** This configuration with other delegating issuers (gateway DIDs trusted to name the user in {@code sub}). */
  public Config withDelegatingIssuers(List<String> issuers) {
    return new Config(profile, bind, port, dataDir, databaseUrl, serviceDid, allowDidKey, plcUrl,
        didWebAllowedInsecureHosts, metricsToken, limits, storage, bounds, List.copyOf(issuers));
  }

  public enum Profile {
    DEV, PROD;

    public static Profile parse(String s) {
      return switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "dev" -> DEV;
        case "prod" -> PROD;
        default -> throw new IllegalArgumentException("MLSDS_PROFILE must be dev or prod, not '" + s + "'");
      };
    }
  }

  /** Every limit of docs/api.md §9 plus the token and rate-limit knobs; all configurable. */
  public record Limits(
      int keyPackageMaxBytes,
      int keyPackagesPerPublish,
      int availableKeyPackagesPerDevice,
      Duration keyPackageMaxLifetime,
      Duration reservationLease,
      int didsPerGetKeyPackages,
      int membersPerConvo,
      long messageMaxBytes,
      long requestMaxBytes,
      int applicationEpochWindow,
      Duration welcomeGrace,
      Duration tokenMaxLifetime,
      int keyPackageLowThreshold,
      int rateLimitPerMinute,
      int keyPackageClaimsPerCallerPerMinute,
      int keyPackageClaimsPerTargetPerMinute) {

    public static Limits defaults() {
      return new Limits(64 * 1024, 100, 200, Duration.ofDays(90), Duration.ofMinutes(10), 100, 1000,
          10L * 1024 * 1024, 1024 * 1024, 2, Duration.ofHours(1), Duration.ofSeconds(300), 10,
          6000, 3000, 100);
    }
  }

  public static final String DEFAULT_SERVICE_DID = "did:web:localhost";
  public static final String DEFAULT_PLC_URL = "https://plc.directory";

  public static Config devDefaults() {
    return new Config(Profile.DEV, "127.0.0.1", 8080, Path.of("data"), null, DEFAULT_SERVICE_DID, true,
        DEFAULT_PLC_URL, List.of(), null, Limits.defaults());
  }

  public boolean usesPostgres() {
    return databaseUrl != null && databaseUrl.startsWith("jdbc:postgresql:");
  }

  /** The JDBC URL actually used: the configured one, or the embedded SQLite file under {@code dataDir}. */
  public String effectiveDatabaseUrl() {
    if (databaseUrl != null && !databaseUrl.isBlank()) {
      return databaseUrl;
    }
    return "jdbc:sqlite:" + dataDir.resolve("mlsds.db");
  }

  /**
   * Checks the configuration and returns it, or throws {@link IllegalArgumentException} with a one-line
   * reason naming the setting to change.
   */
  public Config validate() {
    List<String> problems = new ArrayList<>();
    if (port < 0 || port > 65535) {
      problems.add("MLSDS_PORT must be 0..65535");
    }
    if (databaseUrl != null && !databaseUrl.isBlank()
        && !databaseUrl.startsWith("jdbc:postgresql:") && !databaseUrl.startsWith("jdbc:sqlite:")) {
      problems.add("MLSDS_DATABASE_URL must start with jdbc:postgresql: or jdbc:sqlite:");
    }
    if (serviceDid == null || !(serviceDid.startsWith("did:web:") || serviceDid.startsWith("did:plc:"))) {
      problems.add("MLSDS_SERVICE_DID must be a did:web or did:plc identifier");
    }
    problems.addAll(bounds.problems());
    for (String issuer : delegatingIssuers) {
      if (!issuer.matches("did:[a-z]+:[a-zA-Z0-9._:%-]+")) {
        problems.add("MLSDS_DELEGATING_ISSUERS must be a comma-separated list of DIDs, not '" + issuer + "'");
      }
    }
    if (profile == Profile.PROD) {
      if (serviceDid == null || DEFAULT_SERVICE_DID.equals(serviceDid)) {
        problems.add("prod profile needs MLSDS_SERVICE_DID set to this service's own DID");
      }
      if (!usesPostgres()) {
        problems.add("prod profile needs MLSDS_DATABASE_URL=jdbc:postgresql://...");
      }
      if (allowDidKey) {
        problems.add("prod profile refuses did:key tokens (MLSDS_ALLOW_DID_KEY=false)");
      }
      if (!didWebAllowedInsecureHosts.isEmpty()) {
        problems.add("prod profile refuses MLSDS_DID_WEB_INSECURE_HOSTS (test-only SSRF exception)");
      }
      if (plcUrl != null && plcUrl.startsWith("http:")) {
        problems.add("prod profile needs an https MLSDS_PLC_URL");
      }
      if (!isLoopback(bind) && (metricsToken == null || metricsToken.isBlank())) {
        problems.add("prod profile on a non-loopback bind needs MLSDS_METRICS_TOKEN to protect /metrics");
      }
    }
    if (storage.pageMaxBytes() < 64 * 1024) {
      problems.add("MLSDS_PAGE_MAX_BYTES must be at least 65536");
    }
    if (storage.devicesPerDid() < 1) {
      problems.add("MLSDS_MAX_DEVICES_PER_DID must be at least 1");
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
    return this;
  }

  static boolean isLoopback(String bind) {
    return bind.equals("127.0.0.1") || bind.equals("localhost") || bind.equals("::1") || bind.startsWith("127.");
  }
}
