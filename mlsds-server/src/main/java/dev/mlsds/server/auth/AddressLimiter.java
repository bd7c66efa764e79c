package dev.mlsds.server.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.Map;

/**
 * Unauthenticated cost per source address (review M3): a token bucket of {@code perMinute} per client
 * address, spent by requests whose token needs a DID fetch or fails authentication. An address whose
 * bucket is empty gets 429 {@code RateLimitExceeded} before any signature check or fetch, so forged
 * tokens with ever-new issuers cannot make this node hammer the PLC directory. Callers with cached keys
 * and valid tokens never spend anything. Bounded: at most {@value #MAX_ADDRESSES} buckets, idle ones
 * dropped after two minutes (by then they are full again).
 *
 * <p>Behind a reverse proxy every connection comes from the proxy: list it in {@code MLSDS_TRUSTED_PROXIES}
 * so that its {@code X-Forwarded-For} names the client ({@link dev.mlsds.server.limits.TrustedProxies}), or
 * set the rate to 0 (it turns this off) and limit per client at the proxy.
 */
final class AddressLimiter {
  private static final int MAX_ADDRESSES = 100_000;
  private final long perMinute;
  private final Cache<String, Bucket> buckets = Caffeine.newBuilder()
      .maximumSize(MAX_ADDRESSES).expireAfterAccess(Duration.ofMinutes(2)).build();

  AddressLimiter(long perMinute) {
    this.perMinute = perMinute;
  }

  /** Throws 429 when {@code address} has nothing left to spend. */
  void requireBudget(String address) {
    if (address != null && perMinute > 0 && bucket(address).getAvailableTokens() < 1) {
      throw new XrpcException(XrpcError.RateLimitExceeded,
          "too many failed or unresolved tokens from this address; retry later", Map.of(), 60);
    }
  }

  /** Spends one token of {@code address} for a fetch, or throws 429 when it has none left. */
  void spendForFetch(String address) {
    if (address != null && perMinute > 0 && !bucket(address).tryConsume(1)) {
      throw new XrpcException(XrpcError.RateLimitExceeded,
          "too many failed or unresolved tokens from this address; retry later", Map.of(), 60);
    }
  }

  /** Spends one token of {@code address} for a failed authentication (none left is fine). */
  void spend(String address) {
    if (address != null && perMinute > 0) {
      bucket(address).tryConsume(1);
    }
  }

  private Bucket bucket(String address) {
    return buckets.get(address, a -> Bucket.builder()
        .addLimit(l -> l.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1))).build());
  }
}
