package dev.mlsds.server.realtime;

import java.time.Duration;

/**
 * Tunables of the event streams.
 *
 * @param keepalive idle time after which a stream sends {@code :keepalive} (SSE) or a ping (WebSocket)
 * @param bufferEvents events one stream may have queued before it is cut as a slow consumer
 * @param bufferBytes bytes of event bodies one stream may have queued (at least one event always fits)
 * @param writeTimeout longest a single WebSocket frame may take to go out before the stream is dropped
 * @param ticketLifetime how long a WebSocket ticket can be redeemed
 * @param cursorRetention how long an all-conversations cursor can be resumed from
 */
public record RealtimeSettings(Duration keepalive, int bufferEvents, long bufferBytes, Duration writeTimeout,
    Duration ticketLifetime, Duration cursorRetention) {

  public RealtimeSettings {
    if (keepalive.isNegative() || keepalive.isZero() || bufferEvents < 1 || bufferBytes < 1
        || writeTimeout.isNegative() || writeTimeout.isZero()) {
      throw new IllegalArgumentException("realtime settings must be positive");
    }
  }

  /** docs/api.md §7: keepalive every 15 s, tickets for 30 s. */
  public static RealtimeSettings defaults() {
    return new RealtimeSettings(Duration.ofSeconds(15), 1000, 16L * 1024 * 1024, Duration.ofSeconds(30),
        Duration.ofSeconds(30), Duration.ofDays(7));
  }

  public RealtimeSettings withKeepalive(Duration d) {
    return new RealtimeSettings(d, bufferEvents, bufferBytes, writeTimeout, ticketLifetime, cursorRetention);
  }

  public RealtimeSettings withBuffer(int events, long bytes) {
    return new RealtimeSettings(keepalive, events, bytes, writeTimeout, ticketLifetime, cursorRetention);
  }

  public RealtimeSettings withTicketLifetime(Duration d) {
    return new RealtimeSettings(keepalive, bufferEvents, bufferBytes, writeTimeout, d, cursorRetention);
  }
}
