package dev.mlsds.server.auth;

import java.math.BigInteger;
import java.util.Optional;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.ECDomainParameters;

/**
 * The two curves AT Protocol signs with (atproto cryptography spec), each with its JWT {@code alg} and the
 * multicodec varint that prefixes its compressed public key in a Multikey / {@code did:key}.
 */
public enum KeyType {
  P256("ES256", "secp256r1", new byte[] {(byte) 0x80, 0x24}),
  K256("ES256K", "secp256k1", new byte[] {(byte) 0xe7, 0x01});

  private final String jwtAlg;
  private final ECDomainParameters domain;
  private final BigInteger halfOrder;
  private final byte[] multicodec;

  KeyType(String jwtAlg, String curve, byte[] multicodec) {
    this.jwtAlg = jwtAlg;
    // Bouncy Castle's custom curve implementations: several times faster than the generic Fp arithmetic.
    X9ECParameters x9 = CustomNamedCurves.getByName(curve);
    this.domain = new ECDomainParameters(x9);
    this.halfOrder = domain.getN().shiftRight(1);
    this.multicodec = multicodec;
  }

  public String jwtAlg() {
    return jwtAlg;
  }

  public ECDomainParameters domain() {
    return domain;
  }

  /** The only JWT algorithms accepted; anything else ({@code none}, HMAC, RSA…) is empty. */
  public static Optional<KeyType> forJwtAlg(String alg) {
    for (KeyType t : values()) {
      if (t.jwtAlg.equals(alg)) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /** True for a 64-byte raw {@code r‖s} signature whose {@code s} is at most n/2 (atproto's low-S rule). */
  public boolean isLowS(byte[] signature) {
    return signature.length == 64 && new BigInteger(1, signature, 32, 32).compareTo(halfOrder) <= 0;
  }

  byte[] multicodec() {
    return multicodec.clone();
  }

  /** The curve order n, for tests that need to produce a high-S twin of a signature. */
  public BigInteger order() {
    return domain.getN();
  }
}
