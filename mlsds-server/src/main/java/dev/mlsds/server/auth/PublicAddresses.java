package dev.mlsds.server.auth;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * SSRF guard for did:web: an address is public unless it is loopback, unspecified, private, link-local,
 * multicast, or one of the special-purpose IPv4 ranges (shared CGNAT, benchmarking, reserved, broadcast)
 * or IPv6 unique-local / IPv4-embedding ranges. A did:web host is fetched only when every address its
 * name resolves to is public.
 */
final class PublicAddresses {
  private PublicAddresses() {}

  static boolean isPublic(InetAddress a) {
    if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress()
        || a.isMulticastAddress()) {
      return false;
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      int o0 = b[0] & 0xff;
      int o1 = b[1] & 0xff;
      return !(o0 == 0                                  // 0.0.0.0/8 "this network"
          || (o0 == 100 && (o1 & 0xc0) == 64)           // 100.64.0.0/10 shared (CGNAT)
          || (o0 == 192 && o1 == 0 && (b[2] & 0xff) == 0) // 192.0.0.0/24 IETF protocol assignments
          || (o0 == 198 && (o1 & 0xfe) == 18)           // 198.18.0.0/15 benchmarking
          || o0 >= 240);                                // 240.0.0.0/4 reserved, and broadcast
    }
    if (a instanceof Inet6Address) {
      int o0 = b[0] & 0xff;
      boolean uniqueLocal = (o0 & 0xfe) == 0xfc;        // fc00::/7
      boolean nat64 = o0 == 0x00 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b; // 64:ff9b::/96
      boolean embedsV4 = allZero(b, 0, 12);             // ::a.b.c.d (IPv4-compatible)
      boolean sixToFour = o0 == 0x20 && (b[1] & 0xff) == 0x02; // 2002::/16 carries an IPv4 address
      boolean teredo = o0 == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0; // 2001::/32
      return !(uniqueLocal || nat64 || embedsV4 || sixToFour || teredo);
    }
    return false;
  }

  private static boolean allZero(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
