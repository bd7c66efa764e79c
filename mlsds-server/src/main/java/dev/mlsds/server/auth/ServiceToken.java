package dev.mlsds.server.auth;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The structure of an AT Protocol service token, parsed strictly but not yet trusted: {@link
 * ServiceAuthenticator} checks the claims and the signature.
 *
 * <p>Parsing refuses (401 {@code InvalidToken}) anything but three base64url parts holding two JSON
 * objects without duplicate keys and a 64-byte signature; a header {@code alg} other than ES256K / ES256
 * (so {@code none}, HMAC, RSA); a {@code crit} header (no extension is understood); a missing or
 * non-string {@code iss} or {@code jti}; and {@code exp} (and {@code iat} when present) that are not whole
 * seconds in a sane range. {@code iat} is optional because older PDS builds do not write it ({@code null}
 * then). {@code aud}, {@code lxm} and {@code sub} are kept as found (null when absent or not a string):
 * the absence of the first two has its own error names, and {@code sub} is read only for a delegating
 * issuer ({@link ServiceAuthenticator}).
 */
public record ServiceToken(KeyType keyType, String iss, String aud, String lxm, long exp, Long iat, String jti,
    String sub, byte[] signingInput, byte[] signature) {
  static final int MAX_CHARS = 8192;
  static final int MAX_JTI_CHARS = 256;
  /** NumericDate bounds: after 2001 and before year 5000; keeps every later sum or difference exact. */
  private static final long MIN_TIME = 1_000_000_000L;
  private static final long MAX_TIME = 95_000_000_000L;
  private static final ObjectMapper STRICT = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  public static ServiceToken parse(String compact) {
    if (compact.length() > MAX_CHARS) {
      throw invalid("token longer than " + MAX_CHARS + " characters");
    }
    int dot1 = compact.indexOf('.');
    int dot2 = dot1 < 0 ? -1 : compact.indexOf('.', dot1 + 1);
    if (dot1 < 0 || dot2 < 0 || compact.indexOf('.', dot2 + 1) >= 0) {
      throw invalid("a token is three base64url parts separated by dots");
    }
    JsonNode header = json(compact.substring(0, dot1), "header");
    JsonNode claims = json(compact.substring(dot1 + 1, dot2), "payload");
    byte[] signature = base64url(compact.substring(dot2 + 1), "signature");

    JsonNode alg = header.get("alg");
    KeyType type = alg != null && alg.isTextual() ? KeyType.forJwtAlg(alg.textValue()).orElse(null) : null;
    if (type == null) {
      throw invalid("unsupported alg: only ES256K and ES256 are accepted");
    }
    if (header.has("crit")) {
      throw invalid("critical header extensions are not supported");
    }
    if (signature.length != 64) {
      throw invalid("signature must be 64 bytes of raw r||s");
    }
    String iss = text(claims, "iss");
    String jti = text(claims, "jti");
    if (iss == null) {
      throw invalid("iss claim missing");
    }
    if (jti == null || jti.isEmpty() || jti.length() > MAX_JTI_CHARS) {
      throw invalid("jti claim missing or longer than " + MAX_JTI_CHARS + " characters");
    }
    byte[] signingInput = compact.substring(0, dot2).getBytes(StandardCharsets.US_ASCII);
    Long iat = claims.has("iat") ? time(claims, "iat") : null;
    return new ServiceToken(type, iss, text(claims, "aud"), text(claims, "lxm"), time(claims, "exp"),
        iat, jti, text(claims, "sub"), signingInput, signature);
  }

  /** The issuer DID with any {@code #fragment} removed: the fragment never selects another identity. */
  public Did issuer() {
    int hash = iss.indexOf('#');
    try {
      return new Did(hash < 0 ? iss : iss.substring(0, hash));
    } catch (IllegalArgumentException e) {
      throw invalid("iss is not a DID");
    }
  }

  private static JsonNode json(String part, String what) {
    try {
      JsonNode node = STRICT.readTree(base64url(part, what));
      if (node == null || !node.isObject()) {
        throw invalid("token " + what + " is not a JSON object");
      }
      return node;
    } catch (IOException e) {
      throw invalid("token " + what + " is not valid JSON");
    }
  }

  private static byte[] base64url(String part, String what) {
    try {
      return Base64.getUrlDecoder().decode(part);
    } catch (IllegalArgumentException e) {
      throw invalid("token " + what + " is not base64url");
    }
  }

  private static String text(JsonNode claims, String name) {
    JsonNode v = claims.get(name);
    return v != null && v.isTextual() ? v.textValue() : null;
  }

  private static long time(JsonNode claims, String name) {
    JsonNode v = claims.get(name);
    if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()
        || v.longValue() < MIN_TIME || v.longValue() > MAX_TIME) {
      throw invalid(name + " claim missing or not a time in whole seconds");
    }
    return v.longValue();
  }

  private static XrpcException invalid(String message) {
    return new XrpcException(XrpcError.InvalidToken, message);
  }
}
