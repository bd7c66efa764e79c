package dev.mlsds.server.realtime;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/** Stream metrics. Labels are the transport only: never a conversation or a user (unbounded). */
final class RealtimeMetrics {
  enum Transport { SSE, WEBSOCKET }

  private final Map<Transport, AtomicInteger> active = new EnumMap<>(Transport.class);
  private final Timer fanOut;
  private final Counter slowConsumers;
  private final Counter busReconnects;
  private final Counter busNotifications;
  private final Counter busSends;

  RealtimeMetrics(MeterRegistry registry) {
    for (Transport t : Transport.values()) {
      AtomicInteger n = new AtomicInteger();
      active.put(t, n);
      Gauge.builder("mlsds.realtime.streams.active", n, AtomicInteger::get).description("Open event streams")
          .tag("transport", t.name().toLowerCase()).register(registry);
    }
    fanOut = Timer.builder("mlsds.realtime.fanout.latency")
        .description("From a log entry's commit (its createdAt) to the live event written to a subscriber")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
    slowConsumers = Counter.builder("mlsds.realtime.slow_consumers")
        .description("Streams closed because the client fell behind").register(registry);
    busReconnects = Counter.builder("mlsds.realtime.bus.reconnects")
        .description("Times the PostgreSQL LISTEN connection was re-established").register(registry);
    busNotifications = Counter.builder("mlsds.realtime.bus.notifications")
        .description("Notifications sent to the other nodes (after coalescing)").register(registry);
    busSends = Counter.builder("mlsds.realtime.bus.sends")
        .description("NOTIFY transactions sent to the other nodes").register(registry);
  }

  void opened(Transport t) {
    active.get(t).incrementAndGet();
  }

  void closed(Transport t) {
    active.get(t).decrementAndGet();
  }

  void fanOut(long millis) {
    fanOut.record(Duration.ofMillis(Math.max(0, millis)));
  }

  void slowConsumer() {
    slowConsumers.increment();
  }

  void busNotified(int notifications) {
    busSends.increment();
    busNotifications.increment(notifications);
  }

  void busReconnected() {
    busReconnects.increment();
  }
}
