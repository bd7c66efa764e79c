package dev.mlsds.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The did:web SSRF guard: which resolved addresses may be fetched. */
class PublicAddressesTest {
  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "127.8.9.10", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.255",
      "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "192.0.0.8", "198.18.0.1",
      "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
      "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1",
      "2001:0:4136:e378::1"})
  void refusesInternalAddresses(String ip) throws Exception {
    assertThat(PublicAddresses.isPublic(InetAddress.getByName(ip))).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "192.0.2.200", "2606:4700::1111",
      "2a00:1450:4001::200e"})
  void acceptsPublicAddresses(String ip) throws Exception {
    assertThat(PublicAddresses.isPublic(InetAddress.getByName(ip))).isTrue();
  }
}
