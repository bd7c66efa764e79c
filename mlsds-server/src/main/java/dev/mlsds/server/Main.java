package dev.mlsds.server;

import dev.mlsds.server.limits.Bounds;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.storage.Database;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The {@code mlsds} command line: {@code serve}, {@code migrate}, {@code version}. */
@Command(name = "mlsds", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "An MLS (RFC 9420) Delivery Service for AT Protocol accounts.",
    subcommands = {Main.Serve.class, Main.Migrate.class, Main.PrintVersion.class, TokenCommand.class,
        InspectCommand.class, BackupCommand.class, HealthcheckCommand.class})
public final class Main implements Runnable {

  public static void main(String[] args) {
    int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0 || args.length == 0 || !args[0].equals("serve")) {
      System.exit(code);
    }
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  /** Options shared by every command that touches configuration; each mirrors an MLSDS_* variable. */
  static final class Settings {
    @Option(names = "--profile", defaultValue = "${env:MLSDS_PROFILE:-dev}", description = "dev or prod (MLSDS_PROFILE)")
    String profile;

    @Option(names = "--bind", defaultValue = "${env:MLSDS_BIND:-127.0.0.1}", description = "listen address (MLSDS_BIND)")
    String bind;

    @Option(names = "--port", defaultValue = "${env:MLSDS_PORT:-8080}", description = "listen port (MLSDS_PORT)")
    int port;

    @Option(names = "--data-dir", defaultValue = "${env:MLSDS_DATA_DIR:-data}", description = "folder of the SQLite file (MLSDS_DATA_DIR)")
    Path dataDir;

    @Option(names = "--database-url", defaultValue = "${env:MLSDS_DATABASE_URL}",
        description = "jdbc:postgresql://… selects PostgreSQL; default: SQLite in the data dir (MLSDS_DATABASE_URL)")
    String databaseUrl;

    @Option(names = "--service-did", defaultValue = "${env:MLSDS_SERVICE_DID}",
        description = "this service's DID, the token audience (MLSDS_SERVICE_DID; dev default did:web:localhost)")
    String serviceDid;

    @Option(names = "--allow-did-key", defaultValue = "${env:MLSDS_ALLOW_DID_KEY}", arity = "1",
        description = "accept did:key token issuers (MLSDS_ALLOW_DID_KEY; dev default true, prod false)")
    Boolean allowDidKey;

    @Option(names = "--plc-url", defaultValue = "${env:MLSDS_PLC_URL:-" + Config.DEFAULT_PLC_URL + "}",
        description = "PLC directory for did:plc (MLSDS_PLC_URL)")
    String plcUrl;

    @Option(names = "--did-web-insecure-hosts", defaultValue = "${env:MLSDS_DID_WEB_INSECURE_HOSTS}", split = ",",
        description = "test only: did:web hosts fetched over http without SSRF checks (MLSDS_DID_WEB_INSECURE_HOSTS)")
    List<String> didWebInsecureHosts;

    @Option(names = "--delegating-issuers", defaultValue = "${env:MLSDS_DELEGATING_ISSUERS}", split = ",",
        description = "gateway DIDs whose service tokens name the caller in sub (MLSDS_DELEGATING_ISSUERS; default none)")
    List<String> delegatingIssuers;

    @Option(names = "--metrics-token", defaultValue = "${env:MLSDS_METRICS_TOKEN}",
        description = "bearer token protecting /metrics (MLSDS_METRICS_TOKEN)")
    String metricsToken;

    @Option(names = "--max-keypackage-lifetime-days", defaultValue = "${env:MLSDS_MAX_KEYPACKAGE_LIFETIME_DAYS:-90}",
        description = "longest KeyPackage lifetime accepted (MLSDS_MAX_KEYPACKAGE_LIFETIME_DAYS)")
    int maxKeyPackageLifetimeDays;

    @Option(names = "--max-token-lifetime-seconds", defaultValue = "${env:MLSDS_MAX_TOKEN_LIFETIME_SECONDS:-300}",
        description = "longest accepted exp - iat of a service token (MLSDS_MAX_TOKEN_LIFETIME_SECONDS)")
    int maxTokenLifetimeSeconds;

    @Option(names = "--rate-limit-per-minute", defaultValue = "${env:MLSDS_RATE_LIMIT_PER_MINUTE:-6000}",
        description = "requests per caller per method per minute (MLSDS_RATE_LIMIT_PER_MINUTE)")
    int rateLimitPerMinute;

    @Option(names = "--validation-threads", defaultValue = "${env:MLSDS_VALIDATION_THREADS:-0}",
        description = "platform threads validating KeyPackages; 0 = half the cores (MLSDS_VALIDATION_THREADS)")
    int validationThreads;

    @Option(names = "--in-flight-per-caller", defaultValue = "${env:MLSDS_IN_FLIGHT_PER_CALLER:-32}",
        description = "XRPC requests one caller may have running at once (MLSDS_IN_FLIGHT_PER_CALLER)")
    int inFlightPerCaller;

    @Option(names = "--did-fetch-concurrency", defaultValue = "${env:MLSDS_DID_FETCH_CONCURRENCY:-16}",
        description = "DID documents fetched at once (MLSDS_DID_FETCH_CONCURRENCY)")
    int didFetchConcurrency;

    @Option(names = "--did-failures-per-address-per-minute",
        defaultValue = "${env:MLSDS_DID_FAILURES_PER_ADDRESS_PER_MINUTE:-120}",
        description = "failed or fetch-needing token checks per source address per minute "
            + "(MLSDS_DID_FAILURES_PER_ADDRESS_PER_MINUTE)")
    int didFailuresPerAddressPerMinute;

    @Option(names = "--min-free-disk-mb", defaultValue = "${env:MLSDS_MIN_FREE_DISK_MB:-64}",
        description = "free MiB on the SQLite volume below which /health/ready is not ready (MLSDS_MIN_FREE_DISK_MB)")
    long minFreeDiskMb;

    @Option(names = "--sqlite-synchronous", defaultValue = "${env:MLSDS_SQLITE_SYNCHRONOUS:-FULL}",
        description = "SQLite synchronous mode: FULL or NORMAL (MLSDS_SQLITE_SYNCHRONOUS)")
    String sqliteSynchronous;

    @Option(names = "--trusted-proxies", defaultValue = "${env:MLSDS_TRUSTED_PROXIES}", split = ",",
        description = "addresses or CIDR blocks of reverse proxies whose X-Forwarded-For names the client; "
            + "default none: the header is ignored (MLSDS_TRUSTED_PROXIES)")
    List<String> trustedProxies;

    @Option(names = "--database-pool-size", defaultValue = "${env:MLSDS_DATABASE_POOL_SIZE:-0}",
        description = "database connections per node, 0 = 16 on PostgreSQL, 8 on SQLite (MLSDS_DATABASE_POOL_SIZE)")
    int databasePoolSize;

    @Option(names = "--page-max-bytes", defaultValue = "${env:MLSDS_PAGE_MAX_BYTES:-8388608}",
        description = "bytes of MLS data per getMessages/getCommits page (MLSDS_PAGE_MAX_BYTES)")
    long pageMaxBytes;

    @Option(names = "--max-devices-per-did", defaultValue = "${env:MLSDS_MAX_DEVICES_PER_DID:-16}",
        description = "devices one DID may hold KeyPackages for (MLSDS_MAX_DEVICES_PER_DID)")
    int maxDevicesPerDid;

    @Option(names = "--user-quota-bytes", defaultValue = "${env:MLSDS_USER_QUOTA_BYTES:-1073741824}",
        description = "bytes of messages and Welcomes one DID may have stored, 0 = no quota (MLSDS_USER_QUOTA_BYTES)")
    long userQuotaBytes;

    @Option(names = "--user-quota-messages", defaultValue = "${env:MLSDS_USER_QUOTA_MESSAGES:-1000000}",
        description = "messages one DID may have stored, 0 = no quota (MLSDS_USER_QUOTA_MESSAGES)")
    long userQuotaMessages;

    @Option(names = "--user-quota-convos", defaultValue = "${env:MLSDS_USER_QUOTA_CONVOS:-1000}",
        description = "open conversations one DID may have created, 0 = no quota (MLSDS_USER_QUOTA_CONVOS)")
    int userQuotaConvos;

    @Option(names = "--rate-limit-bytes-per-minute", defaultValue = "${env:MLSDS_RATE_LIMIT_BYTES_PER_MINUTE:-268435456}",
        description = "request body bytes per caller per minute, all procedures (MLSDS_RATE_LIMIT_BYTES_PER_MINUTE)")
    long rateLimitBytesPerMinute;

    @Option(names = "--message-retention-days", defaultValue = "${env:MLSDS_MESSAGE_RETENTION_DAYS:-0}",
        description = "days messages are kept, 0 = forever (MLSDS_MESSAGE_RETENTION_DAYS)")
    int messageRetentionDays;

    @Option(names = "--finished-retention-days", defaultValue = "${env:MLSDS_FINISHED_RETENTION_DAYS:-7}",
        description = "days finished Welcomes and closed conversations are kept (MLSDS_FINISHED_RETENTION_DAYS)")
    int finishedRetentionDays;

    @Option(names = "--response-memory-bytes", defaultValue = "${env:MLSDS_RESPONSE_MEMORY_BYTES:-0}",
        description = "MLS data all responses may hold at once, 0 = a quarter of the heap (MLSDS_RESPONSE_MEMORY_BYTES)")
    long responseMemoryBytes;

    @Option(names = "--stream-cursors-per-did", defaultValue = "${env:MLSDS_STREAM_CURSORS_PER_DID:-100}",
        description = "stream cursor bases kept per DID, the newest (MLSDS_STREAM_CURSORS_PER_DID)")
    int streamCursorsPerDid;

    StorageLimits storageLimits() {
      return new StorageLimits(pageMaxBytes, maxDevicesPerDid, userQuotaBytes, userQuotaMessages, userQuotaConvos,
          rateLimitBytesPerMinute, Duration.ofDays(Math.max(0, messageRetentionDays)),
          Duration.ofDays(Math.max(0, finishedRetentionDays)), responseMemoryBytes, streamCursorsPerDid);
    }

    Config toConfig() {
      Config.Profile p = Config.Profile.parse(profile);
      Config.Limits d = Config.Limits.defaults();
      Config.Limits limits = new Config.Limits(d.keyPackageMaxBytes(), d.keyPackagesPerPublish(),
          d.availableKeyPackagesPerDevice(), Duration.ofDays(maxKeyPackageLifetimeDays), d.reservationLease(),
          d.didsPerGetKeyPackages(), d.membersPerConvo(), d.messageMaxBytes(), d.requestMaxBytes(),
          d.applicationEpochWindow(), d.welcomeGrace(), Duration.ofSeconds(maxTokenLifetimeSeconds),
          d.keyPackageLowThreshold(), rateLimitPerMinute, d.keyPackageClaimsPerCallerPerMinute(),
          d.keyPackageClaimsPerTargetPerMinute());
      String did = serviceDid != null && !serviceDid.isBlank() ? serviceDid
          : p == Config.Profile.DEV ? Config.DEFAULT_SERVICE_DID : null;
      boolean didKey = allowDidKey != null ? allowDidKey : p == Config.Profile.DEV;
      List<String> insecure = didWebInsecureHosts == null ? List.of()
          : didWebInsecureHosts.stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
      return new Config(p, bind, port, dataDir, blankToNull(databaseUrl), did, didKey, plcUrl, insecure,
          blankToNull(metricsToken), limits, storageLimits()).withBounds(bounds())
          .withDelegatingIssuers(delegatingIssuers == null ? List.of()
              : delegatingIssuers.stream().map(String::trim).filter(s -> !s.isEmpty()).toList())
          .validate();
    }

    private Bounds bounds() {
      Bounds b = Bounds.defaults();
      return b.withValidationThreads(validationThreads > 0 ? validationThreads : b.validationThreads())
          .withInFlightPerCaller(inFlightPerCaller)
          .withDid(didFetchConcurrency, didFailuresPerAddressPerMinute, b.didNegativeCacheSize())
          .withMinFreeDiskBytes(minFreeDiskMb * 1024 * 1024)
          .withSqliteSynchronous(sqliteSynchronous.trim().toUpperCase(java.util.Locale.ROOT))
          .withTrustedProxies(trustedProxies == null ? List.of()
              : trustedProxies.stream().map(String::trim).filter(t -> !t.isEmpty()).toList())
          .withDatabasePoolSize(databasePoolSize);
    }

    /** The configuration, or null after printing the one-line reason it is refused. */
    Config toConfigOrReport(String prefix) {
      try {
        return toConfig();
      } catch (IllegalArgumentException e) {
        System.err.println("mlsds: " + prefix + e.getMessage());
        return null;
      }
    }

    private static String blankToNull(String s) {
      return s == null || s.isBlank() ? null : s;
    }
  }

  @Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the Delivery Service until stopped.")
  static final class Serve implements Callable<Integer> {
    @Mixin Settings settings;

    // The launcher's training run for the JDK's ahead-of-time cache (./mlsds): start, answer one readiness
    // probe, stop; what the JVM loaded and profiled on the way is what later starts get from the cache.
    @Option(names = "--exit-when-ready", hidden = true)
    boolean exitWhenReady;

    @Override
    public Integer call() {
      Config config = settings.toConfigOrReport("refusing to start: ");
      if (config == null) {
        return 2;
      }
      Server server = Wiring.build(config, Clock.systemUTC()).start();
      if (exitWhenReady) {
        int status = probeReady(server.port());
        server.stop();
        return status == 200 ? 0 : 1;
      }
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        server.stop();
        stopped.countDown();
      }, "mlsds-shutdown"));
      try {
        stopped.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return 0;
    }
  }

  /** GET /health/ready over a plain socket (no HTTP client to set up); the status code, or -1. */
  static int probeReady(int port) {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String response = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
      String[] statusLine = response.split(" ", 3);
      return statusLine.length > 1 ? Integer.parseInt(statusLine[1]) : -1;
    } catch (java.io.IOException | NumberFormatException e) {
      return -1;
    }
  }

  @Command(name = "migrate", mixinStandardHelpOptions = true, description = "Apply database migrations and exit.")
  static final class Migrate implements Callable<Integer> {
    @Mixin Settings settings;

    @Override
    public Integer call() {
      Config config = settings.toConfigOrReport("");
      if (config == null) {
        return 2;
      }
      try (Database db = Database.open(config.effectiveDatabaseUrl(), null)) {
        int n = db.migrate();
        System.out.println("applied " + n + " migration(s) to " + db.dialect().name().toLowerCase());
        return 0;
      }
    }
  }

  @Command(name = "version", description = "Print the version and exit.")
  static final class PrintVersion implements Runnable {
    @Override
    public void run() {
      System.out.println("mlsds " + Server.version());
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"mlsds " + Server.version()};
    }
  }

}
