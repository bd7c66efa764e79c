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
 * @param catchUp period of the safety net that finds what a lost wake left unread (a lost wake delays an
 *     event by at most this much)
 * @param backfillPageBytes bytes of message data one backfill (or feed) read may load (at least one entry)
 * @param streamsPerDid open streams one DID may have on one node; more are refused with 429
 */
public record RealtimeSettings(Duration keepalive, int bufferEvents, long bufferBytes, Duration writeTimeout,
    Duration ticketLifetime, Duration cursorRetention, Duration catchUp, long backfillPageBytes, int streamsPerDid) {

  public RealtimeSettings {
    if (keepalive.isNegative() || keepalive.isZero() || bufferEvents < 1 || bufferBytes < 1
        || writeTimeout.isNegative() || writeTimeout.isZero() || catchUp.isNegative() || catchUp.isZero()
        || backfillPageBytes < 1 || streamsPerDid < 1) {
      throw new IllegalArgumentException("realtime settings must be positive");
    }
  }

  /** API.md §7: keepalive every 15 s, tickets for 30 s; the bounds of docs/realtime.md. */
  public static RealtimeSettings defaults() {
    return new RealtimeSettings(Duration.ofSeconds(15), 1000, 16L * 1024 * 1024, Duration.ofSeconds(30),
        Duration.ofSeconds(30), Duration.ofDays(7), Duration.ofSeconds(5), 4L * 1024 * 1024, 32);
  }

  public RealtimeSettings withKeepalive(Duration d) {
    return new RealtimeSettings(d, bufferEvents, bufferBytes, writeTimeout, ticketLifetime, cursorRetention, catchUp,
        backfillPageBytes, streamsPerDid);
  }

  public RealtimeSettings withBuffer(int events, long bytes) {
    return new RealtimeSettings(keepalive, events, bytes, writeTimeout, ticketLifetime, cursorRetention, catchUp,
        backfillPageBytes, streamsPerDid);
  }

  public RealtimeSettings withTicketLifetime(Duration d) {
    return new RealtimeSettings(keepalive, bufferEvents, bufferBytes, writeTimeout, d, cursorRetention, catchUp,
        backfillPageBytes, streamsPerDid);
  }

  public RealtimeSettings withCatchUp(Duration d) {
    return new RealtimeSettings(keepalive, bufferEvents, bufferBytes, writeTimeout, ticketLifetime, cursorRetention, d,
        backfillPageBytes, streamsPerDid);
  }

  /** Bytes per backfill page, open streams per DID. */
  public RealtimeSettings withBounds(long pageBytes, int streams) {
    return new RealtimeSettings(keepalive, bufferEvents, bufferBytes, writeTimeout, ticketLifetime, cursorRetention,
        catchUp, pageBytes, streams);
  }
}
