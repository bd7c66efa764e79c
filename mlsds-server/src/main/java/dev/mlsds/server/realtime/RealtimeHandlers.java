package dev.mlsds.server.realtime;

import dev.mlsds.server.Config;
import dev.mlsds.server.Server;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.limits.RateLimiter;
import dev.mlsds.server.conversations.ConvoStore;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcParams;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.websocket.WsContext;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * The realtime methods (docs/api.md §7): {@code streamConvoEvents} (Server-Sent Events),
 * {@code getSubscriptionTicket} and {@code subscribeConvoEvents} (WebSocket). Both streams authenticate
 * and rate-limit like every XRPC call — the SSE request with its bearer token, the WebSocket upgrade with
 * a single-use ticket — and check everything that can be refused before the stream begins, so refusals are
 * ordinary XRPC errors.
 */
public final class RealtimeHandlers implements Server.Streams {
  static final String STREAM = "blue.catbird.mls.streamConvoEvents";
  static final String TICKET = "blue.catbird.mls.getSubscriptionTicket";
  static final String SUBSCRIBE = "blue.catbird.mls.subscribeConvoEvents";
  private static final String SUBSCRIPTION = "mlsds.subscription";
  private static final String FRAMING = "mlsds.framing";

  private final StreamHub hub;
  private final StreamService streams;
  private final RateLimiter rateLimiter;
  private Server server;

  public RealtimeHandlers(StreamHub hub, ConvoStore convos, RateLimiter rateLimiter) {
    this.hub = hub;
    this.streams = new StreamService(hub, convos);
    this.rateLimiter = rateLimiter;
  }

  /** Registers the ticket method, the stream routes and the housekeeping of cursors and tickets. */
  public void register(Server server) {
    this.server = server;
    server.router().procedure(TICKET, call -> getSubscriptionTicket(call.caller()));
    server.streams(this);
    server.maintenance().task("stream-cursors", hub.cursors()::purge);
    server.maintenance().task("stream-tickets", hub.tickets()::purge);
  }

  @Override
  public void install(JavalinConfig cfg) {
    cfg.routes.get("/xrpc/" + STREAM, this::streamConvoEvents);
    for (HandlerType t : new HandlerType[] {HandlerType.POST, HandlerType.PUT, HandlerType.DELETE, HandlerType.PATCH}) {
      cfg.routes.addHttpHandler(t, "/xrpc/" + STREAM, ctx -> {
        ctx.header("Allow", "GET");
        throw XrpcException.methodNotAllowed(STREAM + " is a subscription: use GET (Server-Sent Events)");
      });
    }
    cfg.routes.wsBeforeUpgrade("/xrpc/" + SUBSCRIBE, this::beforeUpgrade);
    cfg.routes.ws("/xrpc/" + SUBSCRIBE, ws -> {
      ws.onConnect(this::onConnect);
      ws.onClose(ctx -> closeStream(ctx));
      ws.onError(ctx -> closeStream(ctx));
    });
    cfg.routes.get("/xrpc/" + SUBSCRIBE, ctx -> {
      throw XrpcException.invalidRequest(SUBSCRIBE + " is a WebSocket: open it with an upgrade request");
    });
  }

  @Override
  public void start() {
    hub.start();
  }

  @Override
  public Set<String> nsids() {
    return Set.of(STREAM, SUBSCRIBE);
  }

  @Override
  public void close() {
    hub.close();
  }

  // POST /xrpc/blue.catbird.mls.getSubscriptionTicket
  private GetSubscriptionTicket.Output getSubscriptionTicket(Did caller) {
    TicketStore.Issued t = hub.tickets().issue(caller);
    return new GetSubscriptionTicket.Output(t.ticket(), endpoint(), t.expiresAt());
  }

  // GET /xrpc/blue.catbird.mls.streamConvoEvents
  private void streamConvoEvents(Context ctx) throws IOException {
    Did caller = server.router().authenticate(ctx, STREAM);
    XrpcParams params = new XrpcParams(ctx.queryParamMap());
    // EventSource reconnects to the same URL with Last-Event-ID: the header is the newer position.
    Optional<String> cursor = Optional.ofNullable(ctx.header("Last-Event-ID")).filter(s -> !s.isBlank())
        .or(() -> params.opt("cursor"));
    Subscription s = streams.open(caller, params.opt("convoId"), cursor, RealtimeMetrics.Transport.SSE);
    ctx.status(200).contentType("text/event-stream; charset=utf-8");
    ctx.header("Cache-Control", "no-cache");
    ctx.header("X-Accel-Buffering", "no");
    // A stream that ends (slow consumer, lost access, node stopping) ends its connection too.
    ctx.header("Connection", "close");
    // The headers go out with the first event, infoEvent "ready", once the stream has fixed its position.
    s.run(new SseSink(ctx.res(), hub.settings().writeTimeout()));
  }

  // GET /xrpc/blue.catbird.mls.subscribeConvoEvents (WebSocket upgrade): refusals are HTTP errors.
  private void beforeUpgrade(Context ctx) {
    server.requireServing();
    XrpcParams params = new XrpcParams(ctx.queryParamMap());
    String ticket = params.opt("ticket").orElseThrow(() -> new XrpcException(
        XrpcError.AuthenticationRequired, "a ticket from getSubscriptionTicket is required"));
    Framing framing = switch (params.opt("encoding").orElse("cbor")) {
      case "cbor" -> Framing.WS_CBOR;
      case "json" -> Framing.WS_JSON;
      default -> throw XrpcException.invalidRequest("encoding: 'cbor' (the default) or 'json'");
    };
    Did caller = hub.tickets().redeem(ticket);
    rateLimiter.check(caller, SUBSCRIBE);
    ctx.attribute(FRAMING, framing);
    ctx.attribute(SUBSCRIPTION, streams.open(caller, params.opt("convoId"), params.opt("cursor"),
        RealtimeMetrics.Transport.WEBSOCKET));
  }

  private void onConnect(WsContext ctx) {
    Subscription s = ctx.attribute(SUBSCRIPTION);
    ctx.session.setIdleTimeout(hub.settings().keepalive().multipliedBy(3));
    Thread.ofVirtual().name("mlsds-ws-stream").start(() -> {
      s.run(new WsSink(ctx.session, hub.settings().writeTimeout(), ctx.attribute(FRAMING)));
      ctx.closeSession();
    });
  }

  private static void closeStream(WsContext ctx) {
    Subscription s = ctx.attribute(SUBSCRIPTION);
    if (s != null) {
      s.close();
    }
  }

  /**
   * Where clients open the WebSocket: {@code wss://<host>/xrpc/…} for a {@code did:web} service (the host
   * its DID document names); in the dev profile, or for a {@code did:plc} service, this node's own
   * listening address over plain {@code ws:}.
   */
  private String endpoint() {
    Config c = server.config();
    String path = "/xrpc/" + SUBSCRIBE;
    if (c.profile() != Config.Profile.DEV && c.serviceDid().startsWith("did:web:")) {
      String[] parts = c.serviceDid().substring("did:web:".length()).split(":");
      StringBuilder url = new StringBuilder("wss://").append(URLDecoder.decode(parts[0], StandardCharsets.UTF_8));
      for (int i = 1; i < parts.length; i++) {
        url.append('/').append(URLDecoder.decode(parts[i], StandardCharsets.UTF_8));
      }
      return url + path;
    }
    String host = c.bind().equals("0.0.0.0") || c.bind().equals("::") ? "localhost"
        : c.bind().contains(":") ? "[" + c.bind() + "]" : c.bind();
    return "ws://" + host + ":" + server.port() + path;
  }

  /** {@code getSubscriptionTicket}'s output. */
  public static final class GetSubscriptionTicket {
    private GetSubscriptionTicket() {}

    public record Output(String ticket, String endpoint, Instant expiresAt) {}
  }
}
