package dev.mlsds.server.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import dev.mlsds.server.Config;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodySubscribers;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * Finds the {@code #atproto} signing key of a DID: {@code did:plc} through the configured PLC directory,
 * {@code did:web} over HTTPS, {@code did:key} from the identifier itself (only when the configuration
 * allows it). Every other method is refused.
 *
 * <p>Contract:
 * <ul>
 *   <li>A resolved key is cached for the TTL (default 5 min); a DID that does not resolve to a usable key
 *   (unknown, no {@code #atproto} key, bad document) is remembered for at most 30 s and gives 401
 *   {@code InvalidToken}. Concurrent requests for one DID share one fetch.</li>
 *   <li>A directory that cannot be reached (timeout, refused connection, 5xx, 429) gives 503
 *   {@code Unavailable}, remembered for one second so a burst during an outage costs one fetch. Each
 *   fetch has a connect and response timeout (default 3 s) and a 64 KiB body cap; nothing hangs.</li>
 *   <li>{@link #refreshedKey} re-fetches a DID once after a signature failed (key rotation), but not if
 *   the cached document is younger than the minimum refresh interval, so forged tokens cannot make this
 *   node hammer the directory.</li>
 *   <li>Bounded outbound work (review M3): at most {@code MLSDS_DID_FETCH_CONCURRENCY} fetches run at once;
 *   one more fails fast with 503 {@code Unavailable} instead of queueing. Results that are not a key
 *   (refused, unreachable) are kept in a separate, smaller negative cache, so DIDs named by forged tokens
 *   never take room from, or evict, the resolved keys of real users. (The per-source-address limit on
 *   tokens that need a fetch or fail is {@link ServiceAuthenticator}'s.)</li>
 *   <li>SSRF: a did:web host is fetched only over HTTPS and only if every address its name resolves to is
 *   public ({@link PublicAddresses}); redirects are never followed. The hosts listed in
 *   {@code MLSDS_DID_WEB_INSECURE_HOSTS} (tests only; the prod profile refuses the setting) skip the
 *   address check and use plain HTTP. The connection reuses the JVM's cached lookup of the name just
 *   checked, which closes the DNS-rebinding window to the lookup cache's lifetime.</li>
 * </ul>
 */
public final class DidResolver {
  public static final Duration DEFAULT_TTL = Duration.ofMinutes(5);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(3);
  public static final Duration DEFAULT_MIN_REFRESH = Duration.ofSeconds(10);
  static final Duration REFUSED_TTL = Duration.ofSeconds(30);
  static final Duration UNREACHABLE_TTL = Duration.ofSeconds(1);
  static final int MAX_DOCUMENT_BYTES = 64 * 1024;
  private static final int MAX_CACHED_DIDS = 100_000;
  private static final int MAX_CACHED_DID_KEYS = 10_000;
  private static final Pattern PLC = Pattern.compile("^did:plc:[a-z2-7]{24}$");
  private static final Pattern WEB_HOST = Pattern.compile("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$");
  private static final Pattern WEB_PATH_SEGMENT = Pattern.compile("^[A-Za-z0-9._~-]+$");

  /** What one fetch found. Only {@link Found} is cached for the full TTL. */
  sealed interface Resolution {}

  record Found(AtprotoKey key, long resolvedAtNanos) implements Resolution {}

  record Refused(String reason) implements Resolution {}

  record Unreachable(String reason) implements Resolution {}

  /** No fetch was made: {@link #fetches} were all in use. Never remembered. */
  record Busy() implements Resolution {}

  private final boolean allowDidKey;
  private final String plcUrl;
  private final List<String> insecureHosts;
  private final Duration timeout;
  private final long minRefreshNanos;
  /** Built on the first fetch: its TLS set-up costs ~0.3 s of start-up a did:key-only node never needs. */
  private volatile HttpClient http;
  private final AsyncLoadingCache<Did, Resolution> cache;
  private final Cache<Did, Resolution> negative;
  private final Semaphore fetches;
  /**
   * Decoded did:key keys (a pure function of the DID, so never stale). Decoding decompresses the curve
   * point, a modular square root per request otherwise. Bounded, so DIDs made up by callers only evict
   * each other.
   */
  private final Cache<Did, AtprotoKey> didKeys = Caffeine.newBuilder().maximumSize(MAX_CACHED_DID_KEYS).build();

  private HttpClient http() {
    HttpClient client = http;
    if (client == null) {
      synchronized (this) {
        client = http;
        if (client == null) {
          client = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
          http = client;
        }
      }
    }
    return client;
  }

  public DidResolver(Config config) {
    this(config, DEFAULT_TTL, DEFAULT_TIMEOUT, DEFAULT_MIN_REFRESH);
  }

  public DidResolver(Config config, Duration ttl, Duration timeout, Duration minRefresh) {
    this.allowDidKey = config.allowDidKey();
    this.plcUrl = config.plcUrl().endsWith("/") ? config.plcUrl().substring(0, config.plcUrl().length() - 1)
        : config.plcUrl();
    this.insecureHosts = config.didWebAllowedInsecureHosts().stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
    this.timeout = timeout;
    this.minRefreshNanos = minRefresh.toNanos();
    Duration refusedTtl = ttl.compareTo(REFUSED_TTL) < 0 ? ttl : REFUSED_TTL;
    this.fetches = new Semaphore(config.bounds().didFetchConcurrency());
    this.negative = Caffeine.newBuilder()
        .maximumSize(config.bounds().didNegativeCacheSize())
        .expireAfter(Expiry.<Did, Resolution>creating((did, r) -> r instanceof Refused ? refusedTtl
            : UNREACHABLE_TTL))
        .build();
    // A result that is not a key leaves the key cache as soon as its waiters have it (it lives on in negative).
    this.cache = Caffeine.newBuilder()
        .maximumSize(MAX_CACHED_DIDS)
        .expireAfter(Expiry.<Did, Resolution>creating((did, r) -> r instanceof Found ? ttl : Duration.ZERO))
        // fetches block on the network: run them on virtual threads, never on the common pool
        .executor(task -> Thread.ofVirtual().name("did-resolve").start(task))
        .buildAsync(this::fetch);
  }

  /**
   * The {@code #atproto} key of {@code did}. Throws {@code InvalidToken} when the DID has none (or its
   * method is not accepted) and {@code Unavailable} when its directory cannot be reached.
   */
  public AtprotoKey key(Did did) {
    return switch (did.method()) {
      case "key" -> didKey(did);
      case "plc", "web" -> keyOf(resolve(did));
      default -> throw invalid("unsupported DID method did:" + did.method());
    };
  }

  /**
   * After {@code stale} failed to verify a signature: the key as the directory has it now, if it differs
   * (the key was rotated). Empty when it is unchanged, when the cached document is too recent to
   * re-fetch, or for {@code did:key} (its key cannot change).
   */
  public Optional<AtprotoKey> refreshedKey(Did did, AtprotoKey stale) {
    if (did.method().equals("key")) {
      return Optional.empty();
    }
    Resolution current = resolve(did);
    if (current instanceof Found f && f.key().equals(stale)
        && System.nanoTime() - f.resolvedAtNanos() >= minRefreshNanos) {
      cache.synchronous().asMap().remove(did, current); // only this entry: a concurrent refresh is kept
      current = resolve(did);
    }
    AtprotoKey now = keyOf(current);
    return now.equals(stale) ? Optional.empty() : Optional.of(now);
  }

  /** Whether resolving {@code did} now needs no fetch (a key or a failure is remembered). */
  public boolean isCached(Did did) {
    if (did.method().equals("key")) {
      return true;
    }
    CompletableFuture<Resolution> pending = cache.getIfPresent(did);
    return negative.getIfPresent(did) != null
        || (pending != null && pending.isDone() && !pending.isCompletedExceptionally());
  }

  private Resolution resolve(Did did) {
    Resolution remembered = negative.getIfPresent(did);
    if (remembered != null) {
      return remembered;
    }
    Resolution r = await(did, cache.get(did));
    if (r instanceof Refused || r instanceof Unreachable) {
      negative.put(did, r);
    }
    return r;
  }

  private AtprotoKey didKey(Did did) {
    if (!allowDidKey) {
      throw invalid("did:key issuers are not accepted by this service");
    }
    AtprotoKey cached = didKeys.getIfPresent(did);
    if (cached != null) {
      return cached;
    }
    try {
      AtprotoKey key = AtprotoKey.fromMultikey(did.value().substring("did:key:".length()));
      didKeys.put(did, key);
      return key;
    } catch (RuntimeException e) {
      throw invalid("malformed did:key: " + e.getMessage());
    }
  }

  private static AtprotoKey keyOf(Resolution r) {
    return switch (r) {
      case Found f -> f.key();
      case Refused x -> throw invalid(x.reason());
      case Unreachable x -> throw new XrpcException(XrpcError.Unavailable, x.reason());
      case Busy x -> throw new XrpcException(XrpcError.Unavailable, "too many DID resolutions in progress; retry shortly",
          java.util.Map.of(), 1);
    };
  }

  private Resolution await(Did did, CompletableFuture<Resolution> pending) {
    try {
      // the fetch bounds itself; this bound covers a hanging DNS lookup of a did:web host as well
      return pending.get(2 * timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new XrpcException(XrpcError.Unavailable, "resolving " + did + " timed out");
    } catch (ExecutionException e) {
      throw new XrpcException(XrpcError.Unavailable, "resolving " + did + " failed");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new XrpcException(XrpcError.Unavailable, "interrupted while resolving " + did);
    }
  }

  private Resolution fetch(Did did) {
    if (!fetches.tryAcquire()) {
      return new Busy();
    }
    try {
      return fetchNow(did);
    } finally {
      fetches.release();
    }
  }

  private Resolution fetchNow(Did did) {
    URI uri;
    try {
      uri = did.method().equals("plc") ? plcUri(did) : webUri(did);
    } catch (IllegalArgumentException e) {
      return new Refused(e.getMessage());
    }
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout)
        .header("Accept", "application/did+ld+json, application/json").GET().build();
    CompletableFuture<HttpResponse<byte[]>> response = http().sendAsync(request, info -> info.statusCode() == 200
        ? new CappedBody(MAX_DOCUMENT_BYTES) : BodySubscribers.replacing(null));
    try {
      HttpResponse<byte[]> r = response.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      int status = r.statusCode();
      if (status == 200) {
        return parse(did, r.body());
      }
      if (status == 429 || status >= 500) {
        return new Unreachable("DID directory for " + did + " answered " + status);
      }
      return new Refused(status == 404 || status == 410 ? did + " does not resolve (" + status + ")"
          : "DID document of " + did + " could not be fetched (" + status + ")");
    } catch (TimeoutException e) {
      response.cancel(true);
      return new Unreachable("DID directory for " + did + " did not answer in " + timeout.toMillis() + " ms");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof CappedBody.TooLarge) {
        return new Refused("DID document of " + did + " exceeds " + MAX_DOCUMENT_BYTES + " bytes");
      }
      if (e.getCause() instanceof HttpTimeoutException) {
        return new Unreachable("DID directory for " + did + " did not answer in " + timeout.toMillis() + " ms");
      }
      return new Unreachable("DID directory for " + did + " is unreachable (" + e.getCause().getClass().getSimpleName() + ")");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Unreachable("interrupted while resolving " + did);
    }
  }

  private static Resolution parse(Did did, byte[] body) {
    try {
      JsonNode doc = Json.MAPPER.readTree(body);
      return new Found(DidDocument.atprotoKey(did, doc), System.nanoTime());
    } catch (IOException | RuntimeException e) {
      // remote, untrusted bytes: any parse failure is the document's fault, never a 500
      return new Refused("unusable DID document for " + did + ": " + e.getMessage());
    }
  }

  private URI plcUri(Did did) {
    if (!PLC.matcher(did.value()).matches()) {
      throw new IllegalArgumentException("malformed did:plc identifier");
    }
    return URI.create(plcUrl + "/" + did.value());
  }

  /**
   * {@code did:web:host[%3Aport][:path:segments]} → {@code https://host[:port]/.well-known/did.json}, or
   * {@code https://host/path/segments/did.json} for the path form. Refuses hosts that are not public.
   */
  URI webUri(Did did) {
    String[] parts = did.value().substring("did:web:".length()).split(":", -1);
    String hostPort = parts[0].replace("%3A", ":").replace("%3a", ":").toLowerCase(Locale.ROOT);
    if (!WEB_HOST.matcher(hostPort).matches()) {
      throw new IllegalArgumentException("malformed did:web host");
    }
    StringBuilder path = new StringBuilder();
    for (int i = 1; i < parts.length; i++) {
      if (!WEB_PATH_SEGMENT.matcher(parts[i]).matches() || parts[i].equals(".") || parts[i].equals("..")) {
        throw new IllegalArgumentException("malformed did:web path");
      }
      path.append('/').append(parts[i]);
    }
    path.append(parts.length == 1 ? "/.well-known/did.json" : "/did.json");
    String host = hostPort.contains(":") ? hostPort.substring(0, hostPort.indexOf(':')) : hostPort;
    boolean insecure = insecureHosts.contains(host) || insecureHosts.contains(hostPort);
    if (!insecure) {
      requirePublic(host);
    }
    return URI.create((insecure ? "http://" : "https://") + hostPort + path);
  }

  private static void requirePublic(String host) {
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("did:web host " + host + " does not resolve");
    }
    for (InetAddress a : addresses) {
      if (!PublicAddresses.isPublic(a)) {
        throw new IllegalArgumentException("did:web host " + host + " is not a public address");
      }
    }
  }

  private static XrpcException invalid(String message) {
    return new XrpcException(XrpcError.InvalidToken, message);
  }
}
