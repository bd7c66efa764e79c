package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Multikey / did:key encoding (atproto cryptography spec examples) and raw low-S verification. */
class AtprotoKeyTest {
  @Test
  void decodesTheAtprotoSpecDidKeyExamples() {
    AtprotoKey p256 = AtprotoKey.fromMultikey("zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo");
    AtprotoKey k256 = AtprotoKey.fromMultikey("zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc");
    assertThat(p256.type()).isEqualTo(KeyType.P256);
    assertThat(k256.type()).isEqualTo(KeyType.K256);
    assertThat(p256.didKey().value()).isEqualTo("did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo");
    assertThat(k256.didKey().value()).isEqualTo("did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc");
  }

  @ParameterizedTest
  @EnumSource(KeyType.class)
  void roundTripsAndVerifiesOnlyRawLowS(KeyType type) {
    DevIdentity id = DevIdentity.generate(type);
    AtprotoKey key = AtprotoKey.fromMultikey(id.publicKey().multikey());
    assertThat(key).isEqualTo(id.publicKey());
    assertThat(id.publicKey().multikey()).startsWith(type == KeyType.P256 ? "zDn" : "zQ3s");

    byte[] message = "header.payload".getBytes(StandardCharsets.US_ASCII);
    byte[] sig = id.signRaw(message);
    assertThat(type.isLowS(sig)).isTrue();
    assertThat(key.verify(message, sig)).isTrue();
    assertThat(key.verify("header.payloaD".getBytes(StandardCharsets.US_ASCII), sig)).isFalse();
    assertThat(key.verify(message, java.util.Arrays.copyOf(sig, 65))).isFalse();
    assertThat(key.verify(message, new byte[64])).isFalse();
  }

  @Test
  void refusesPointsOffTheCurveAndUnknownCodecs() {
    byte[] bogus = new byte[33];
    bogus[0] = 0x02;
    bogus[32] = 0x05; // x = 5 is not the x of a secp256k1 point with a square root... or the point is refused
    assertThatThrownBy(() -> AtprotoKey.fromMultikey(Multibase.encode(concat(new byte[] {(byte) 0xed, 0x01}, bogus))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("neither");
    assertThatThrownBy(() -> AtprotoKey.fromPoint(KeyType.P256, new byte[65]))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AtprotoKey.fromMultikey("zDn0OIl")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AtprotoKey.fromMultikey("z" + "2".repeat(Multibase.MAX_CHARS)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void multibaseKeepsLeadingZeroBytes() {
    byte[] data = {0, 0, 1, 2, (byte) 0xff};
    assertThat(Multibase.decode(Multibase.encode(data))).isEqualTo(data);
    assertThat(Multibase.encode(new byte[] {0, 0})).isEqualTo("z11");
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
