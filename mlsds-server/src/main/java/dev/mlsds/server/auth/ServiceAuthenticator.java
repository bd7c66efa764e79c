package dev.mlsds.server.auth;

import dev.mlsds.server.Config;
import dev.mlsds.server.storage.DatabaseFaults;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies AT Protocol inter-service tokens (docs/api.md §2) and returns the caller's DID.
 *
 * <p>The caller is the token's {@code iss} (fragment stripped), and only if the token is signed by that
 * DID's {@code #atproto} key; {@code sub} is not read, except when {@code iss} is one of the operator's
 * delegating issuers ({@code MLSDS_DELEGATING_ISSUERS}, empty by default: a gateway that signs for its
 * users, as Catbird's did in 2026): then the token must carry {@code sub}, a DID, and that DID is the caller.
 * Checks, cheapest first so junk costs no network or database work:
 * <ol>
 *   <li>{@code Authorization: Bearer} present, else {@code AuthenticationRequired};</li>
 *   <li>structure, {@code alg} ES256K/ES256 only, 64-byte signature ({@link ServiceToken}), else
 *   {@code InvalidToken};</li>
 *   <li>{@code exp} in the future, else {@code ExpiredToken}; {@code iat} at most {@link #SKEW_SECONDS}
 *   ahead and {@code 0 < exp - iat} ≤ the configured maximum, else {@code InvalidToken}; a token without
 *   {@code iat} (older PDS builds) is bounded by {@code exp - now} ≤ the same maximum instead;</li>
 *   <li>{@code aud} equal to the service DID (or with {@code #atproto_mls}), else {@code BadTokenAudience};
 *   {@code lxm} equal to the NSID called, else {@code BadTokenMethod};</li>
 *   <li>a source address that has not used up its budget of tokens needing a DID fetch or failing
 *   ({@link AddressLimiter}), else {@code RateLimitExceeded};</li>
 *   <li>low-S signature by the issuer's key, re-resolving the DID once if it fails (key rotation), else
 *   {@code InvalidToken}; the key's curve must be the one {@code alg} names;</li>
 *   <li>{@code jti} not used before by this issuer ({@link ReplayStore}), else {@code TokenReplayed}.</li>
 * </ol>
 */
public final class ServiceAuthenticator implements Authenticator {
  private static final Logger log = LoggerFactory.getLogger(ServiceAuthenticator.class);
  /** Allowed clock difference for {@code iat}. {@code exp} gets none: a token is never honoured late. */
  public static final long SKEW_SECONDS = 30;

  private final String audience;
  private final String audienceWithFragment;
  private final long maxLifetimeSeconds;
  private final Clock clock;
  private final DidResolver resolver;
  private final ReplayStore replays;
  private final AddressLimiter addresses;
  private final java.util.Set<String> delegatingIssuers;

  public ServiceAuthenticator(Config config, Clock clock, DidResolver resolver, ReplayStore replays) {
    this.audience = config.serviceDid();
    this.audienceWithFragment = config.serviceDid() + "#atproto_mls";
    this.maxLifetimeSeconds = config.limits().tokenMaxLifetime().toSeconds();
    this.clock = clock;
    this.resolver = resolver;
    this.replays = replays;
    this.addresses = new AddressLimiter(config.bounds().didFailuresPerAddressPerMinute());
    this.delegatingIssuers = java.util.Set.copyOf(config.delegatingIssuers());
  }

  @Override
  public Did authenticate(String authorizationHeader, String nsid) {
    return authenticate(authorizationHeader, nsid, false, null, caller -> { });
  }

  @Override
  public Did authenticate(String authorizationHeader, String nsid, boolean readOnly, String sourceAddress,
      Consumer<Did> verified) {
    try {
      return check(authorizationHeader, nsid, readOnly, sourceAddress, verified);
    } catch (XrpcException e) {
      if (e.status() == 401) {
        addresses.spend(sourceAddress);
      }
      throw e;
    }
  }

  private Did check(String authorizationHeader, String nsid, boolean readOnly, String sourceAddress,
      Consumer<Did> verified) {
    ServiceToken token = ServiceToken.parse(bearer(authorizationHeader));
    long now = Math.floorDiv(clock.millis(), 1000);
    if (now >= token.exp()) {
      throw new XrpcException(XrpcError.ExpiredToken, "token expired");
    }
    if (token.iat() == null) {
      // Older PDS builds mint tokens without iat: the lifetime is then bounded from now.
      if (token.exp() - now > maxLifetimeSeconds) {
        throw invalid("token without iat expires more than " + maxLifetimeSeconds + " s from now");
      }
    } else {
      if (token.iat() > now + SKEW_SECONDS) {
        throw invalid("iat is in the future");
      }
      if (token.exp() <= token.iat()) {
        throw invalid("exp must be after iat");
      }
      if (token.exp() - token.iat() > maxLifetimeSeconds) {
        throw invalid("token lifetime (exp - iat) exceeds " + maxLifetimeSeconds + " s");
      }
    }
    if (!audience.equals(token.aud()) && !audienceWithFragment.equals(token.aud())) {
      throw new XrpcException(XrpcError.BadTokenAudience, "aud must be " + audience);
    }
    if (!nsid.equals(token.lxm())) {
      throw new XrpcException(XrpcError.BadTokenMethod, "lxm must be the method called: " + nsid);
    }
    if (!token.keyType().isLowS(token.signature())) {
      throw invalid("signature is not low-S");
    }
    Did issuer = token.issuer();
    addresses.requireBudget(sourceAddress);
    if (!resolver.isCached(issuer)) {
      addresses.spendForFetch(sourceAddress);
    }
    if (!verify(issuer, token)) {
      throw invalid("bad signature for " + issuer);
    }
    Did caller = caller(issuer, token);
    verified.accept(caller);
    if (!firstUse(issuer, token, readOnly)) {
      throw new XrpcException(XrpcError.TokenReplayed, "this token (jti) was already used");
    }
    return caller;
  }

  /** {@code iss}, or {@code sub} when {@code iss} is a delegating issuer (which must then name a user). */
  private Did caller(Did issuer, ServiceToken token) {
    if (!delegatingIssuers.contains(issuer.value())) {
      return issuer;
    }
    if (token.sub() == null) {
      throw invalid("a token from delegating issuer " + issuer + " must name the user in sub");
    }
    try {
      return new Did(token.sub());
    } catch (IllegalArgumentException e) {
      throw invalid("sub is not a DID");
    }
  }

  /**
   * Records the jti. When the database cannot take the write (down, full, read-only), a query goes on
   * without it: reads keep working while writes cannot, at the price that a token for a read could be
   * replayed, by whoever holds it, until its {@code exp} (at most the maximum token lifetime) while the
   * store is down. A procedure fails with 503 instead, since its work could not be written either.
   */
  private boolean firstUse(Did issuer, ServiceToken token, boolean readOnly) {
    if (!readOnly) {
      return replays.firstUseWithWork(issuer, token.jti(), token.exp());
    }
    try {
      return replays.firstUse(issuer, token.jti(), token.exp());
    } catch (RuntimeException e) {
      if (readOnly && DatabaseFaults.isUnavailable(e)) {
        log.warn("replay store unavailable; accepting a read without recording its token: {}", e.toString());
        return true;
      }
      throw e;
    }
  }

  private boolean verify(Did issuer, ServiceToken token) {
    AtprotoKey key = resolver.key(issuer);
    if (matches(key, token)) {
      return true;
    }
    Optional<AtprotoKey> rotated = resolver.refreshedKey(issuer, key);
    if (rotated.isPresent()) {
      key = rotated.get();
      if (matches(key, token)) {
        return true;
      }
    }
    if (key.type() != token.keyType()) {
      throw invalid("alg " + token.keyType().jwtAlg() + " does not match the issuer's key type");
    }
    return false;
  }

  private static boolean matches(AtprotoKey key, ServiceToken token) {
    return key.type() == token.keyType() && key.verify(token.signingInput(), token.signature());
  }

  private static String bearer(String header) {
    if (header == null || header.isBlank()) {
      throw new XrpcException(XrpcError.AuthenticationRequired, "missing Authorization: Bearer <service token>");
    }
    if (!header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() == 7) {
      throw new XrpcException(XrpcError.AuthenticationRequired, "Authorization must be Bearer <service token>");
    }
    return header.substring(7).trim();
  }

  private static XrpcException invalid(String message) {
    return new XrpcException(XrpcError.InvalidToken, message);
  }
}
