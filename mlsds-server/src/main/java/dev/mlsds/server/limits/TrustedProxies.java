package dev.mlsds.server.limits;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Which peers may tell this node the client's address ({@code MLSDS_TRUSTED_PROXIES}, docs/limits.md): a
 * list of addresses and CIDR blocks, empty by default. The per-source-address limits (review M3) need the
 * client's address; behind a reverse proxy every connection comes from the proxy.
 *
 * <p>{@link #clientAddress} believes {@code X-Forwarded-For} only when the connection itself comes from a
 * trusted proxy, and then walks the header from the right (the entry the proxy appended) leftwards past
 * further trusted proxies: the first address that is not a trusted proxy is the client. Entries left of
 * it were written by the client and are never believed, so a client cannot pick its own address by
 * sending the header. With no trusted proxies (the default) the header is ignored entirely.
 *
 * <p>Only literal addresses are accepted, here and in the header: nothing is ever resolved through DNS.
 */
public final class TrustedProxies {
  private static final Pattern IPV4 = Pattern.compile(
      "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
  private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");
  /** Entries of the header looked at, at most: a longer chain is cut there (the proxies' own limit). */
  static final int MAX_HOPS = 32;

  private record Block(byte[] network, int prefix) {
    boolean contains(byte[] a) {
      if (a.length != network.length) {
        return false;
      }
      int full = prefix / 8;
      for (int i = 0; i < full; i++) {
        if (a[i] != network[i]) {
          return false;
        }
      }
      int rest = prefix % 8;
      if (rest == 0) {
        return true;
      }
      int mask = 0xff << (8 - rest) & 0xff;
      return (a[full] & mask) == (network[full] & mask);
    }
  }

  private final List<Block> blocks;

  private TrustedProxies(List<Block> blocks) {
    this.blocks = blocks;
  }

  /** No trusted proxies: the connection's address is the client's. */
  public static TrustedProxies none() {
    return new TrustedProxies(List.of());
  }

  /**
   * Parses {@code entries} (addresses such as {@code 10.0.0.1} or {@code ::1}, CIDR blocks such as
   * {@code 10.0.0.0/8} or {@code fd00::/8}); throws {@link IllegalArgumentException} naming the bad one.
   */
  public static TrustedProxies parse(List<String> entries) {
    List<Block> blocks = new ArrayList<>();
    for (String raw : entries) {
      String e = raw.strip();
      if (e.isEmpty()) {
        continue;
      }
      int slash = e.indexOf('/');
      byte[] address = literal(slash < 0 ? e : e.substring(0, slash))
          .orElseThrow(() -> bad(raw));
      int prefix = address.length * 8;
      if (slash >= 0) {
        try {
          prefix = Integer.parseInt(e.substring(slash + 1));
        } catch (NumberFormatException x) {
          throw bad(raw);
        }
        if (prefix < 0 || prefix > address.length * 8) {
          throw bad(raw);
        }
      }
      blocks.add(new Block(address, prefix));
    }
    return new TrustedProxies(List.copyOf(blocks));
  }

  private static IllegalArgumentException bad(String entry) {
    return new IllegalArgumentException("MLSDS_TRUSTED_PROXIES: '" + entry
        + "' is not an IP address or CIDR block (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)");
  }

  public boolean isEmpty() {
    return blocks.isEmpty();
  }

  /** True when {@code address} (a literal) is one of the trusted proxies. */
  public boolean trusts(String address) {
    return literal(address).map(this::trusts).orElse(false);
  }

  private boolean trusts(byte[] address) {
    for (Block b : blocks) {
      if (b.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The client's address for a connection from {@code peer} carrying the {@code X-Forwarded-For} header
   * values {@code forwardedFor} (all of them, in order; may be empty): {@code peer} unless it is a trusted
   * proxy; otherwise the rightmost header entry that is not a trusted proxy. When the header is missing,
   * or an entry is not an IP address, the last trusted hop is the answer (limits then apply to that proxy,
   * never to an address a client made up); when every entry is a trusted proxy, the leftmost one.
   */
  public String clientAddress(String peer, List<String> forwardedFor) {
    if (blocks.isEmpty() || forwardedFor == null || forwardedFor.isEmpty() || !trusts(peer)) {
      return peer;
    }
    List<String> hops = new ArrayList<>();
    for (String header : forwardedFor) {
      for (String part : header.split(",", -1)) {
        hops.add(part.strip());
      }
    }
    String current = peer;
    for (int i = hops.size() - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--, seen++) {
      String hop = stripPort(hops.get(i));
      Optional<byte[]> address = literal(hop);
      if (address.isEmpty()) {
        return current;
      }
      current = hop;
      if (!trusts(address.get())) {
        return hop;
      }
    }
    return current;
  }

  /** {@code 1.2.3.4:80} → {@code 1.2.3.4}; {@code [::1]:80} and {@code [::1]} → {@code ::1}. */
  static String stripPort(String hop) {
    if (hop.startsWith("[")) {
      int end = hop.indexOf(']');
      return end > 0 ? hop.substring(1, end) : hop;
    }
    int colon = hop.indexOf(':');
    if (colon > 0 && colon == hop.lastIndexOf(':')) {
      return hop.substring(0, colon);
    }
    return hop;
  }

  /** The bytes of an IPv4 or IPv6 literal (never a DNS lookup), or empty. */
  static Optional<byte[]> literal(String s) {
    if (s == null || s.isEmpty() || s.length() > 64) {
      return Optional.empty();
    }
    String a = s.startsWith("[") && s.endsWith("]") ? s.substring(1, s.length() - 1) : s;
    int zone = a.indexOf('%');
    if (zone >= 0) {
      a = a.substring(0, zone);
    }
    boolean v4 = IPV4.matcher(a).matches();
    if (!v4 && !(a.indexOf(':') >= 0 && IPV6_CHARS.matcher(a).matches())) {
      return Optional.empty();
    }
    try {
      // A dotted quad or a string with ':' is parsed as a literal by the JDK, never looked up.
      byte[] bytes = InetAddress.getByName(a).getAddress();
      return Optional.of(v4mapped(bytes));
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  /** {@code ::ffff:a.b.c.d} compares as {@code a.b.c.d}. */
  private static byte[] v4mapped(byte[] b) {
    if (b.length != 16) {
      return b;
    }
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return b;
      }
    }
    if (b[10] != (byte) 0xff || b[11] != (byte) 0xff) {
      return b;
    }
    return new byte[] {b[12], b[13], b[14], b[15]};
  }
}
