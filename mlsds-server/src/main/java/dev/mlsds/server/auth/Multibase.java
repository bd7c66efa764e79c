package dev.mlsds.server.auth;

import java.math.BigInteger;

/**
 * Multibase {@code base58btc} ({@code z…}), the only multibase atproto uses for keys. Inputs are capped
 * at {@link #MAX_CHARS}: decoding is quadratic and key material is never longer.
 */
final class Multibase {
  static final int MAX_CHARS = 256;
  private static final String ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  private static final BigInteger BASE = BigInteger.valueOf(58);

  private Multibase() {}

  static String encode(byte[] data) {
    StringBuilder sb = new StringBuilder();
    BigInteger v = new BigInteger(1, data);
    while (v.signum() > 0) {
      BigInteger[] qr = v.divideAndRemainder(BASE);
      sb.append(ALPHABET.charAt(qr[1].intValue()));
      v = qr[0];
    }
    for (int i = 0; i < data.length && data[i] == 0; i++) {
      sb.append('1');
    }
    return "z" + sb.reverse();
  }

  static byte[] decode(String s) {
    if (s == null || s.length() < 2 || s.length() > MAX_CHARS || s.charAt(0) != 'z') {
      throw new IllegalArgumentException("not a base58btc multibase string");
    }
    BigInteger v = BigInteger.ZERO;
    int zeros = 0;
    boolean leading = true;
    for (int i = 1; i < s.length(); i++) {
      int digit = ALPHABET.indexOf(s.charAt(i));
      if (digit < 0) {
        throw new IllegalArgumentException("invalid base58 character");
      }
      if (leading && digit == 0) {
        zeros++;
      } else {
        leading = false;
      }
      v = v.multiply(BASE).add(BigInteger.valueOf(digit));
    }
    byte[] magnitude = v.signum() == 0 ? new byte[0] : v.toByteArray();
    int skip = magnitude.length > 0 && magnitude[0] == 0 ? 1 : 0;
    byte[] out = new byte[zeros + magnitude.length - skip];
    System.arraycopy(magnitude, skip, out, zeros, magnitude.length - skip);
    return out;
  }
}
