package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** MLSDS_TRUSTED_PROXIES: X-Forwarded-For names the client only when a trusted proxy says so. */
class TrustedProxiesTest {
  static final TrustedProxies PROXIES = TrustedProxies.parse(List.of("10.0.0.0/8", " 192.168.1.5 ", "fd00::/8", "::1"));

  @Test
  @DisplayName("with no trusted proxies (the default) the header is ignored")
  void noneIgnoresTheHeader() {
    assertThat(TrustedProxies.none().clientAddress("10.1.2.3", List.of("203.0.113.9"))).isEqualTo("10.1.2.3");
    assertThat(TrustedProxies.parse(List.of("", " ")).isEmpty()).isTrue();
  }

  @Test
  @DisplayName("a connection that is not from a trusted proxy is the client, whatever header it sends")
  void untrustedPeerCannotSpoof() {
    assertThat(PROXIES.clientAddress("203.0.113.9", List.of("198.51.100.1"))).isEqualTo("203.0.113.9");
    assertThat(PROXIES.clientAddress("10.255.0.1", List.of())).as("no header: the proxy").isEqualTo("10.255.0.1");
  }

  @Test
  @DisplayName("from a trusted proxy: the rightmost entry that is not a trusted proxy; entries a client wrote are ignored")
  void rightmostUntrusted() {
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of("203.0.113.9"))).isEqualTo("203.0.113.9");
    // The client sent "X-Forwarded-For: 198.51.100.1"; the proxy appended the real address.
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of("198.51.100.1, 203.0.113.9"))).isEqualTo("203.0.113.9");
    // Two proxies in a chain, header split over two header lines.
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of("198.51.100.1, 203.0.113.9", "192.168.1.5")))
        .isEqualTo("203.0.113.9");
    // Ports and brackets, IPv6.
    assertThat(PROXIES.clientAddress("::1", List.of("[2001:db8::7]:4431"))).isEqualTo("2001:db8::7");
    assertThat(PROXIES.clientAddress("0:0:0:0:0:0:0:1", List.of("203.0.113.9:5000"))).isEqualTo("203.0.113.9");
    assertThat(PROXIES.clientAddress("fd12::3", List.of("2001:db8::8"))).isEqualTo("2001:db8::8");
    // An IPv4-mapped peer is the IPv4 proxy.
    assertThat(PROXIES.clientAddress("::ffff:10.0.0.2", List.of("203.0.113.9"))).isEqualTo("203.0.113.9");
  }

  @Test
  @DisplayName("garbage in the header stops the walk at the last trusted hop; all-trusted chains give the leftmost")
  void garbageAndAllTrusted() {
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of("unknown"))).isEqualTo("10.0.0.2");
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of("203.0.113.9, evil.example, 192.168.1.5")))
        .isEqualTo("192.168.1.5");
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of("10.0.0.3, 10.0.0.4"))).isEqualTo("10.0.0.3");
    assertThat(PROXIES.clientAddress("10.0.0.2", List.of(""))).isEqualTo("10.0.0.2");
  }

  @Test
  @DisplayName("only literal addresses and CIDR blocks are accepted: never a host name (no DNS)")
  void parsing() {
    assertThat(TrustedProxies.literal("localhost")).isEmpty();
    assertThat(TrustedProxies.literal("1.2.3")).isEmpty();
    assertThat(TrustedProxies.literal("256.1.1.1")).isEmpty();
    assertThat(TrustedProxies.literal("::1")).isPresent();
    assertThat(PROXIES.trusts("10.200.3.4")).isTrue();
    assertThat(PROXIES.trusts("11.0.0.1")).isFalse();
    assertThat(PROXIES.trusts("192.168.1.6")).isFalse();
    assertThat(TrustedProxies.parse(List.of("192.168.1.0/25")).trusts("192.168.1.127")).isTrue();
    assertThat(TrustedProxies.parse(List.of("192.168.1.0/25")).trusts("192.168.1.128")).isFalse();
    assertThat(TrustedProxies.parse(List.of("0.0.0.0/0")).trusts("8.8.8.8")).isTrue();
    for (String bad : List.of("proxy.example", "10.0.0.0/33", "10.0.0.0/x", "::1/129", "10.0.0.1/")) {
      assertThatThrownBy(() -> TrustedProxies.parse(List.of(bad)))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("MLSDS_TRUSTED_PROXIES");
    }
    assertThat(Bounds.defaults().withTrustedProxies(List.of("nope")).problems())
        .anyMatch(p -> p.contains("MLSDS_TRUSTED_PROXIES"));
    assertThat(Bounds.defaults().withDatabasePoolSize(-1).problems())
        .anyMatch(p -> p.contains("MLSDS_DATABASE_POOL_SIZE"));
  }
}
