package dev.mlsds.server.auth;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.math.ec.ECPoint;

/**
 * A public signing key of an AT Protocol identity (its DID document's {@code #atproto} key), and the one
 * place where service-token signatures are checked.
 *
 * <p>Verification uses Bouncy Castle's lightweight {@link ECDSASigner}, not the JCA provider: about 88 µs
 * per P-256 verify against about 600 µs for the JDK's (see docs/BENCHMARKS.md). Only a raw 64-byte
 * {@code r‖s} with low S is accepted; DER, high-S twins and any other length are refused before any
 * arithmetic. A key instance is reused from the DID cache, which lets Bouncy Castle keep its
 * precomputation for the point between requests.
 */
public record AtprotoKey(KeyType type, ECPublicKeyParameters params) {

  /** Decodes a compressed (33-byte) or uncompressed (65-byte) SEC1 point; a point off the curve is refused. */
  public static AtprotoKey fromPoint(KeyType type, byte[] encoded) {
    if (encoded.length != 33 && encoded.length != 65) {
      throw new IllegalArgumentException("public key must be a 33- or 65-byte SEC1 point");
    }
    ECPoint point = type.domain().getCurve().decodePoint(encoded);
    // the ECPublicKeyParameters constructor rejects infinity and points not on the curve
    return new AtprotoKey(type, new ECPublicKeyParameters(point, type.domain()));
  }

  /** Parses a Multikey value ({@code zQ3s…} secp256k1, {@code zDn…} P-256): multibase of multicodec ‖ compressed point. */
  public static AtprotoKey fromMultikey(String multibase) {
    byte[] bytes = Multibase.decode(multibase);
    for (KeyType t : KeyType.values()) {
      byte[] prefix = t.multicodec();
      if (bytes.length > prefix.length && Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length)) {
        return fromPoint(t, Arrays.copyOfRange(bytes, prefix.length, bytes.length));
      }
    }
    throw new IllegalArgumentException("Multikey is neither secp256k1 (0xe7) nor P-256 (0x1200)");
  }

  /** Parses an EC JWK ({@code kty: EC}, {@code crv: P-256 | secp256k1}, {@code x}, {@code y}). */
  public static AtprotoKey fromJwk(JsonNode jwk) {
    KeyType type = switch (jwk.path("crv").asText("")) {
      case "P-256" -> KeyType.P256;
      case "secp256k1" -> KeyType.K256;
      default -> throw new IllegalArgumentException("JWK curve must be P-256 or secp256k1");
    };
    if (!"EC".equals(jwk.path("kty").asText(""))) {
      throw new IllegalArgumentException("JWK kty must be EC");
    }
    Base64.Decoder b64 = Base64.getUrlDecoder();
    byte[] x = b64.decode(jwk.path("x").asText(""));
    byte[] y = b64.decode(jwk.path("y").asText(""));
    if (x.length != 32 || y.length != 32) {
      throw new IllegalArgumentException("JWK x and y must be 32 bytes each");
    }
    byte[] point = new byte[65];
    point[0] = 0x04;
    System.arraycopy(x, 0, point, 1, 32);
    System.arraycopy(y, 0, point, 33, 32);
    return fromPoint(type, point);
  }

  /** The Multikey form ({@code z…}), as it appears in DID documents and after {@code did:key:}. */
  public String multikey() {
    byte[] prefix = type.multicodec();
    byte[] point = params.getQ().getEncoded(true);
    byte[] out = Arrays.copyOf(prefix, prefix.length + point.length);
    System.arraycopy(point, 0, out, prefix.length, point.length);
    return Multibase.encode(out);
  }

  public Did didKey() {
    return new Did("did:key:" + multikey());
  }

  /**
   * True when {@code signature} is a low-S raw {@code r‖s} ECDSA signature by this key over SHA-256 of
   * {@code message}.
   */
  public boolean verify(byte[] message, byte[] signature) {
    if (!type.isLowS(signature)) {
      return false;
    }
    BigInteger r = new BigInteger(1, signature, 0, 32);
    BigInteger s = new BigInteger(1, signature, 32, 32);
    ECDSASigner verifier = new ECDSASigner();
    verifier.init(false, params);
    return verifier.verifySignature(sha256(message), r, s);
  }

  /** Keys are equal when they are the same point on the same curve. */
  @Override
  public boolean equals(Object o) {
    return o instanceof AtprotoKey k && k.type == type && k.params.getQ().equals(params.getQ());
  }

  @Override
  public int hashCode() {
    return params.getQ().hashCode();
  }

  static byte[] sha256(byte[] message) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(message);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
