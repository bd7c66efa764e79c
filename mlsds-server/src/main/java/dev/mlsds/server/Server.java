package dev.mlsds.server;

import dev.mlsds.server.auth.Authenticator;
import dev.mlsds.server.limits.CpuPool;
import dev.mlsds.server.limits.HttpSettings;
import dev.mlsds.server.limits.SlowClients;
import dev.mlsds.server.limits.InFlight;
import dev.mlsds.server.limits.LargeBodies;
import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.limits.TrustedProxies;
import dev.mlsds.server.ops.Health;
import dev.mlsds.server.ops.Maintenance;
import dev.mlsds.server.ops.Metrics;
import dev.mlsds.server.ops.ServiceDidDocument;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.ErrorResponses;
import dev.mlsds.server.xrpc.JettyErrors;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.RequestIds;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcRouter;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One mlsds node: wires every component by hand (no container) and owns their lifecycle.
 *
 * <p>Shutdown is graceful: {@link #stop()} first refuses new requests with 503 {@code Unavailable}, waits
 * for in-flight requests to finish (up to {@link #DRAIN_TIMEOUT_MS}), then stops Jetty and the pool.
 */
public final class Server implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Server.class);
  static final long DRAIN_TIMEOUT_MS = 10_000;
  static final java.time.Duration MAINTENANCE_EVERY = java.time.Duration.ofMinutes(1);
  private static final String STARTED_AT = "mlsds.startedAt";

  private final Config config;
  private final Clock clock;
  private final Metrics metrics;
  private final Database db;
  private final Health health;
  private final XrpcRouter router;
  private final Maintenance maintenance = new Maintenance();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final List<Streams> streams = new ArrayList<>();
  private final List<CpuPool> pools = new ArrayList<>();
  private volatile boolean draining;
  /**
   * True until the migrations are applied: Jetty listens while Flyway still runs (start-up overlaps the two),
   * and every request but {@code /health/live} is 503 {@code Unavailable} until then.
   */
  private volatile boolean starting = true;
  /** The port Jetty listens on, once it does (port 0 in the config picks a free one). */
  private volatile int boundPort;
  private Javalin app;
  private HttpSettings http = HttpSettings.fromEnvironment(System.getenv());
  private SlowClients slowClients;

  /** A node that opens its own metrics registry and database pool from {@code config}. */
  public Server(Config config, Clock clock, Authenticator authenticator, RateLimiter rateLimiter) {
    this(config, clock, new Metrics(), null, authenticator, rateLimiter);
  }

  /** A node over an already opened {@code db} (which it then owns and closes) and {@code metrics}. */
  public Server(Config config, Clock clock, Metrics metrics, Database db, Authenticator authenticator,
      RateLimiter rateLimiter) {
    this.config = config.validate();
    this.clock = clock;
    this.metrics = metrics;
    this.db = db != null ? db : Database.open(config.effectiveDatabaseUrl(), metrics.registry());
    this.health = new Health(this.db, clock, version(), config.bounds().minFreeDiskBytes());
    this.router = new XrpcRouter(authenticator, rateLimiter, config.limits().requestMaxBytes());
    router.inFlight(new InFlight(config.bounds().inFlightPerCaller()));
    router.largeBodies(new LargeBodies(config.bounds().validationThreads(), LargeBodies.DEFAULT_THRESHOLD));
  }


  /** Replaces the HTTP connection bounds (read from {@code MLSDS_HTTP_*}); call before {@link #start()}. */
  public Server http(HttpSettings settings) {
    this.http = settings.validate();
    return this;
  }

  public HttpSettings http() {
    return http;
  }

  /** The router, so features (and tests) register their methods before {@link #start()}. */
  public XrpcRouter router() {
    return router;
  }

  public Database database() {
    return db;
  }

  public Metrics metrics() {
    return metrics;
  }

  public Config config() {
    return config;
  }

  /**
   * Long-lived endpoints (event streams): their routes go in ahead of the generic {@code /xrpc/{nsid}}
   * route, and they are closed first on {@link #stop()} so that open streams do not hold up the drain.
   */
  public interface Streams extends AutoCloseable {
    void install(JavalinConfig cfg);

    /** The node serves from now on (its migrations are applied): start what reads the tables in the background. */
    void start();

    /** The NSIDs it serves (a bounded set, for the request metrics' route label). */
    Set<String> nsids();

    @Override
    void close();
  }

  /** Adds streaming endpoints; call before {@link #start()}. */
  public void streams(Streams s) {
    streams.add(s);
  }

  /** A bounded pool of platform threads for CPU-heavy work, closed when the node stops. */
  public CpuPool cpuPool(String name, int threads, int queue) {
    CpuPool pool = new CpuPool(name, threads, queue);
    pools.add(pool);
    return pool;
  }

  /** The periodic housekeeping tasks; features add theirs before {@link #start()}. */
  public Maintenance maintenance() {
    return maintenance;
  }

  public Clock clock() {
    return clock;
  }

  /** Applies migrations, then starts listening. Returns this server. */
  public Server start() {
    // Jetty is built and started while the migrations run (Wiring started them); until they are applied,
    // every request but /health/live is 503 (beforeRequest), and start() returns only then.
    app = Javalin.create(cfg -> {
      cfg.startup.showJavalinBanner = false;
      cfg.concurrency.useVirtualThreads = true;
      cfg.jetty.host = config.bind();
      cfg.jetty.port = config.port();
      cfg.http.maxRequestSize = config.limits().messageMaxBytes() * 2;
      cfg.jetty.modifyServer(s -> s.setErrorHandler(new JettyErrors()));
      slowClients = SlowClients.install(cfg, http, config.bind(), config.port());
      // The client's address (per-address limits): X-Forwarded-For only from MLSDS_TRUSTED_PROXIES.
      TrustedProxies proxies = config.bounds().proxies();
      if (!proxies.isEmpty()) {
        cfg.contextResolver.ip = ctx -> proxies.clientAddress(ctx.req().getRemoteAddr(),
            java.util.Collections.list(ctx.req().getHeaders("X-Forwarded-For")));
      }
      cfg.routes.before(this::beforeRequest);
      cfg.routes.after(this::afterRequest);
      cfg.routes.get("/health", ctx -> {
        Health.Report r = health.report();
        json(ctx, r.httpStatus(), r);
      });
      cfg.routes.get("/health/live", ctx -> json(ctx, 200, Map.of("status", "live")));
      cfg.routes.get("/health/ready", ctx -> {
        Health.Readiness r = health.readiness();
        json(ctx, r.httpStatus(), r);
      });
      cfg.routes.get("/metrics", this::metricsEndpoint);
      cfg.routes.get("/.well-known/did.json", ctx -> ServiceDidDocument.forDid(config.serviceDid())
          .ifPresentOrElse(doc -> json(ctx, 200, doc), () -> {
            throw new XrpcException(XrpcError.NotFound, "this service's DID is not a did:web");
          }));
      streams.forEach(s -> s.install(cfg));
      for (HandlerType t : new HandlerType[] {HandlerType.GET, HandlerType.POST, HandlerType.PUT,
          HandlerType.DELETE, HandlerType.PATCH, HandlerType.HEAD}) {
        cfg.routes.addHttpHandler(t, "/xrpc/{nsid}", router::handle);
      }
      ErrorResponses.install(cfg, config.bounds().unavailableRetryAfter().toSeconds());
    });
    router.minBodyBytesPerSecond(http.minBodyBytesPerSecond());
    app.start();
    boundPort = app.port();
    int applied;
    try {
      applied = db.migrate();
    } catch (RuntimeException e) {
      app.stop();
      throw e;
    }
    if (applied > 0) {
      log.info("applied {} database migration(s) on {}", applied, db.dialect());
    }
    streams.forEach(Streams::start);
    starting = false;
    maintenance.start(MAINTENANCE_EVERY);
    log.info("mlsds {} listening on http://{}:{} ({} profile, {} storage, service DID {})", version(),
        config.bind(), boundPort, config.profile().name().toLowerCase(), db.dialect().name().toLowerCase(),
        config.serviceDid());
    return this;
  }

  /** The bound port (useful with port 0). */
  public int port() {
    int p = boundPort;
    if (p <= 0) {
      throw new IllegalStateException("not listening yet");
    }
    return p;
  }

  /**
   * 503 {@code Unavailable} while the node is starting (migrations not yet applied) or shutting down; for
   * entry points the request filter does not cover (the WebSocket upgrade).
   */
  public void requireServing() {
    if (draining) {
      throw new XrpcException(XrpcError.Unavailable, "server is shutting down");
    }
    if (starting) {
      throw new XrpcException(XrpcError.Unavailable, "server is starting (applying database migrations)");
    }
  }

  private void beforeRequest(Context ctx) {
    ctx.attribute(STARTED_AT, System.nanoTime());
    RequestIds.assign(ctx);
    inFlight.incrementAndGet();
    ctx.attribute("mlsds.counted", Boolean.TRUE);
    if (!ctx.path().equals("/health/live") || draining) {
      requireServing();
    }
  }

  private void afterRequest(Context ctx) {
    if (ctx.attribute("mlsds.counted") != null) {
      inFlight.decrementAndGet();
    }
    Long started = ctx.attribute(STARTED_AT);
    if (started != null) {
      metrics.recordRequest(ctx.method().name(), routeLabel(ctx), ctx.statusCode(), System.nanoTime() - started);
    }
    MDC.remove("requestId");
  }

  /** A bounded label: the NSID for registered XRPC methods, the fixed path otherwise. */
  private String routeLabel(Context ctx) {
    String path = ctx.path();
    if (path.startsWith("/xrpc/")) {
      String nsid = path.substring("/xrpc/".length());
      boolean known = router.methods().containsKey(nsid) || streams.stream().anyMatch(s -> s.nsids().contains(nsid));
      return known ? nsid : "/xrpc/unknown";
    }
    return switch (path) {
      case "/health", "/health/live", "/health/ready", "/metrics", "/.well-known/did.json" -> path;
      default -> "other";
    };
  }

  private void metricsEndpoint(Context ctx) {
    String token = config.metricsToken();
    if (token != null && !token.isBlank() && !("Bearer " + token).equals(ctx.header("Authorization"))) {
      throw new XrpcException(XrpcError.AuthenticationRequired, "metrics need the configured bearer token");
    }
    ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape());
  }

  static void json(Context ctx, int status, Object body) {
    ctx.status(status).contentType("application/json").result(Json.write(body));
  }

  /** Refuses new requests, waits for in-flight ones, then stops listening and closes the pool. */
  public void stop() {
    draining = true;
    streams.forEach(Streams::close);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DRAIN_TIMEOUT_MS);
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    maintenance.close();
    pools.forEach(CpuPool::close);
    if (app != null) {
      app.stop();
    }
    if (slowClients != null) {
      slowClients.close();
    }
    db.close();
    metrics.close();
  }

  @Override
  public void close() {
    stop();
  }

  /** The build's version, read once from the jar. */
  public static String version() {
    return VERSION;
  }

  private static final String VERSION = readVersion();

  private static String readVersion() {
    Properties p = new Properties();
    try (InputStream in = Server.class.getResourceAsStream("/mlsds-version.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p.getProperty("version", "dev");
  }

}
