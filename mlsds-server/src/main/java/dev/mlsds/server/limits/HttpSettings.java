package dev.mlsds.server.limits;

import java.time.Duration;
import java.util.Map;

/**
 * Bounds on what one HTTP connection may hold of the node, against slow and hostile clients (docs/limits.md,
 * docs/RELIABILITY.md "Slow and hostile clients"). Each has an {@code MLSDS_HTTP_*} variable (README).
 *
 * @param idleTimeout           a connection with no bytes moving either way for this long is closed (a stalled body,
 *                              a reader that stopped reading) — {@code MLSDS_HTTP_IDLE_TIMEOUT_SECONDS}
 * @param headerTimeout         a connection must complete a request head (request line and headers) within this long
 *                              of opening or of its previous response, else it is closed: slowloris heads and idle
 *                              keep-alive connections — {@code MLSDS_HTTP_HEADER_TIMEOUT_SECONDS}; by default the
 *                              idle timeout, so idle keep-alive connections last as long as before (java.net.http keeps
 *                              its pooled connections 30 s)
 * @param minBodyBytesPerSecond a request body slower than this on average (after {@link #BODY_GRACE}) is refused
 *                              (400) — {@code MLSDS_HTTP_MIN_BODY_BYTES_PER_SECOND}; 0 = off
 * @param maxConnections        open connections the node accepts; beyond, new ones wait in the listen backlog —
 *                              {@code MLSDS_HTTP_MAX_CONNECTIONS}
 * @param maxHeaderBytes        request line and headers together; beyond, 431 — {@code MLSDS_HTTP_MAX_HEADER_BYTES}
 */
public record HttpSettings(Duration idleTimeout, Duration headerTimeout, long minBodyBytesPerSecond,
    int maxConnections, int maxHeaderBytes) {
  /** How long a body may take before its average rate is checked (a slow start is not a slow client). */
  public static final Duration BODY_GRACE = Duration.ofSeconds(10);

  public static HttpSettings defaults() {
    return new HttpSettings(Duration.ofSeconds(30), Duration.ofSeconds(30), 1024, 10_000, 16 * 1024);
  }

  public static HttpSettings fromEnvironment(Map<String, String> env) {
    HttpSettings d = defaults();
    HttpSettings s = new HttpSettings(
        Duration.ofSeconds(number(env, "MLSDS_HTTP_IDLE_TIMEOUT_SECONDS", d.idleTimeout().toSeconds())),
        Duration.ofSeconds(number(env, "MLSDS_HTTP_HEADER_TIMEOUT_SECONDS", d.headerTimeout().toSeconds())),
        number(env, "MLSDS_HTTP_MIN_BODY_BYTES_PER_SECOND", d.minBodyBytesPerSecond()),
        (int) number(env, "MLSDS_HTTP_MAX_CONNECTIONS", d.maxConnections()),
        (int) number(env, "MLSDS_HTTP_MAX_HEADER_BYTES", d.maxHeaderBytes()));
    return s.validate();
  }

  public HttpSettings validate() {
    if (idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("MLSDS_HTTP_IDLE_TIMEOUT_SECONDS must be at least 1");
    }
    if (headerTimeout.isNegative() || headerTimeout.isZero()) {
      throw new IllegalArgumentException("MLSDS_HTTP_HEADER_TIMEOUT_SECONDS must be at least 1");
    }
    if (minBodyBytesPerSecond < 0) {
      throw new IllegalArgumentException("MLSDS_HTTP_MIN_BODY_BYTES_PER_SECOND must be 0 (off) or more");
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("MLSDS_HTTP_MAX_CONNECTIONS must be at least 1");
    }
    if (maxHeaderBytes < 1024) {
      throw new IllegalArgumentException("MLSDS_HTTP_MAX_HEADER_BYTES must be at least 1024");
    }
    return this;
  }

  public HttpSettings withHeaderTimeout(Duration d) {
    return new HttpSettings(idleTimeout, d, minBodyBytesPerSecond, maxConnections, maxHeaderBytes);
  }

  public HttpSettings withIdleTimeout(Duration d) {
    return new HttpSettings(d, headerTimeout, minBodyBytesPerSecond, maxConnections, maxHeaderBytes);
  }

  public HttpSettings withMinBodyBytesPerSecond(long v) {
    return new HttpSettings(idleTimeout, headerTimeout, v, maxConnections, maxHeaderBytes);
  }

  public HttpSettings withMaxConnections(int v) {
    return new HttpSettings(idleTimeout, headerTimeout, minBodyBytesPerSecond, v, maxHeaderBytes);
  }

  private static long number(Map<String, String> env, String name, long dflt) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number, not '" + v + "'");
    }
  }
}
