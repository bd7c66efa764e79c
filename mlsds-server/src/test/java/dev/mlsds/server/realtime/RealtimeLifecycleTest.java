package dev.mlsds.server.realtime;

import static dev.mlsds.server.realtime.RealtimeFixture.create;
import static dev.mlsds.server.realtime.RealtimeFixture.ok;
import static dev.mlsds.server.realtime.RealtimeFixture.post;
import static dev.mlsds.server.realtime.RealtimeFixture.send;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.realtime.RealtimeFixture.Convo;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A node's streams in its metrics, and a node stopping with streams open. */
class RealtimeLifecycleTest {
  static final Duration WAIT = Duration.ofSeconds(10);

  @Test
  void openStreamsAreCountedAndFanOutIsTimedWithoutPerConversationLabels() {
    try (Server server = Wiring.build(TestServers.config(TestDatabases.sqlite()), Clock.systemUTC(),
        RealtimeSettings.defaults().withKeepalive(Duration.ofMillis(200))).start()) {
      Http http = new Http(server.port());
      TestUser alice = TestUser.on(server);
      Convo c = create(http, alice);
      try (SseClient s = SseClient.open(server.port(), alice.token("streamConvoEvents"), "?convoId=" + c.id(), null)) {
        s.drain(Duration.ofMillis(300));
        assertThat(server.metrics().scrape()).contains("mlsds_realtime_streams_active{transport=\"sse\"} 1.0");
        send(http, alice, c);
        s.next(WAIT);
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!server.metrics().scrape().contains("mlsds_realtime_fanout_latency_seconds_count 1")
            && System.nanoTime() < deadline) { // timed once the write returned, just after the client got it
          SseClient.sleep(20);
        }
        String scrape = server.metrics().scrape();
        assertThat(scrape).contains("mlsds_realtime_fanout_latency_seconds_count 1");
        assertThat(scrape.lines().filter(l -> l.startsWith("mlsds_realtime")))
            .noneMatch(l -> l.contains(c.id()) || l.contains(alice.did().value()));
      }
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (!server.metrics().scrape().contains("mlsds_realtime_streams_active{transport=\"sse\"} 0.0")
          && System.nanoTime() < deadline) { // the server notices the closed stream at its next keepalive
        SseClient.sleep(50);
      }
      assertThat(server.metrics().scrape()).contains("mlsds_realtime_streams_active{transport=\"sse\"} 0.0");
    }
  }

  @Test
  void stoppingANodeEndsItsStreamsInsteadOfWaitingForThem() {
    Server server = TestServers.start(TestDatabases.sqlite());
    TestUser alice = TestUser.on(server);
    Http http = new Http(server.port());
    String ticket = ok(post(http, alice, "getSubscriptionTicket", Map.of())).json().get("ticket").asText();
    try (SseClient s = SseClient.open(server.port(), alice.token("streamConvoEvents"), "", null);
        WsClient w = WsClient.open("ws://127.0.0.1:" + server.port() + "/xrpc/" + WsClient.NSID + "?ticket=" + ticket).client()) {
      long started = System.nanoTime();
      server.stop();
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
      assertThat(s.awaitEnd(WAIT)).isTrue();
      assertThat(w.poll(WAIT)).isNull();
    }
  }
}
