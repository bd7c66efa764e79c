package dev.mlsds.server.realtime;

import static dev.mlsds.server.realtime.RealtimeFixture.add;
import static dev.mlsds.server.realtime.RealtimeFixture.create;
import static dev.mlsds.server.realtime.RealtimeFixture.ok;
import static dev.mlsds.server.realtime.RealtimeFixture.post;
import static dev.mlsds.server.realtime.RealtimeFixture.send;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.realtime.RealtimeFixture.Convo;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.server.xrpc.Json;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Two nodes on one PostgreSQL database: wakes cross between them through LISTEN/NOTIFY, a stream resumes
 * on either node, and what a subscriber receives is exactly the database's log, even while both nodes
 * write and the subscriber keeps disconnecting.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RealtimeAcrossNodesIT {
  static final Duration WAIT = Duration.ofSeconds(10);
  static final Duration QUIET = Duration.ofMillis(500);
  TestDatabases.Postgres pg;
  Server a;
  Server b;
  Http viaA;
  Http viaB;

  @BeforeAll
  void start() {
    pg = TestDatabases.postgres();
    RealtimeSettings settings = RealtimeSettings.defaults().withKeepalive(Duration.ofSeconds(1));
    a = Wiring.build(TestServers.config(pg.url()), Clock.systemUTC(), settings).start();
    b = Wiring.build(TestServers.config(pg.url()), Clock.systemUTC(), settings).start();
    viaA = new Http(a.port());
    viaB = new Http(b.port());
  }

  @AfterAll
  void stop() {
    a.stop();
    b.stop();
    pg.close();
  }

  SseClient stream(Server node, TestUser u, String query, String lastEventId) {
    return SseClient.open(node.port(), u.token("streamConvoEvents"), query, lastEventId);
  }

  @Test
  void aSubscriberOnOneNodeReceivesWhatIsSentThroughTheOther() {
    TestUser alice = TestUser.on(a);
    TestUser bob = TestUser.on(a);
    Convo c = create(viaA, alice);
    try (SseClient onB = stream(b, alice, "?convoId=" + c.id(), null); SseClient bobOnB = stream(b, bob, "", null)) {
      long seq = send(viaA, alice, c);
      assertThat(onB.next(WAIT).seq()).isEqualTo(seq);
      // A membership change made on A reaches Bob's all-conversations stream on B, then the messages do.
      add(viaA, alice, c, bob);
      // The log's events in log order; the live-only keyPackagesLowEvent comes by its own NOTIFY, so its
      // place among them is not fixed across nodes.
      List<StreamEvent> got = bobOnB.drain(QUIET);
      assertThat(got).extracting(StreamEvent::type).containsExactlyInAnyOrder("keyPackagesLowEvent", "membershipEvent", "welcomeEvent");
      assertThat(got).extracting(StreamEvent::type).filteredOn(t -> !t.equals("keyPackagesLowEvent"))
          .containsExactly("membershipEvent", "welcomeEvent");
      long after = send(viaA, alice, c);
      assertThat(bobOnB.next(WAIT).seq()).isEqualTo(after);
    }
  }

  @Test
  void aTicketFromOneNodeOpensAWebSocketOnTheOtherOnce() {
    TestUser alice = TestUser.on(a);
    Convo c = create(viaA, alice);
    String ticket = ok(post(viaA, alice, "getSubscriptionTicket", Map.of())).json().get("ticket").asText();
    String path = "/xrpc/" + WsClient.NSID + "?ticket=" + ticket + "&convoId=" + c.id();
    WsClient.Opened onB = WsClient.open("ws://127.0.0.1:" + b.port() + path);
    assertThat(onB.status()).isEqualTo(101);
    try (WsClient w = onB.client()) {
      long seq = send(viaA, alice, c);
      assertThat(w.next(WAIT).seq()).isEqualTo(seq);
      assertThat(WsClient.open("ws://127.0.0.1:" + a.port() + path).status()).isEqualTo(401);
    }
  }

  @Test
  void streamsCatchUpAfterTheListenConnectionDrops() throws Exception {
    TestUser alice = TestUser.on(a);
    Convo c = create(viaA, alice);
    try (SseClient onB = stream(b, alice, "?convoId=" + c.id(), null)) {
      try (Connection admin = DriverManager.getConnection(pg.url()); Statement s = admin.createStatement()) {
        s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mlsds-realtime-listen' AND datname = current_database()");
      }
      long seq = send(viaA, alice, c);
      assertThat(onB.next(WAIT).seq()).isEqualTo(seq);
      long next = send(viaA, alice, c);
      assertThat(onB.next(WAIT).seq()).isEqualTo(next);
    }
    assertThat(b.metrics().scrape()).containsPattern("mlsds_realtime_bus_reconnects_total [1-9]");
  }

  /**
   * Writers on both nodes; Bob's streams (all conversations, and one conversation) disconnect after a random
   * number of events and resume from their last id on a random node. Meanwhile members come and go, so the
   * log holds membership events between the messages. At the end each conversation's received sequence is
   * the database's log as Bob may see it: nothing missing, nothing twice, in order.
   */
  @Test
  void resumingOnEitherNodeUnderLoadReceivesExactlyTheDatabaseLog() throws Exception {
    TestUser alice = TestUser.on(a);
    TestUser bob = TestUser.on(a);
    List<Convo> convos = List.of(create(viaA, alice), create(viaB, alice), create(viaA, alice));
    for (Convo c : convos) {
      add(viaA, alice, c, bob);
    }
    Map<String, String> startAt = new HashMap<>(); // where streams without a cursor start: the heads now
    for (Convo c : convos) {
      List<String[]> log = log(c.id(), bob);
      startAt.put(c.id(), log.get(log.size() - 1)[0]);
    }
    Map<String, List<String>> all = new HashMap<>();
    List<String> one = new ArrayList<>();
    String allCursor;
    String oneCursor;
    try (SseClient s = stream(b, bob, "", null); SseClient o = stream(a, bob, "?convoId=" + convos.get(1).id(), null)) {
      s.drain(QUIET);
      long marker = send(viaA, alice, convos.get(1));
      StreamEvent e = s.next(WAIT);
      all.computeIfAbsent(e.convoId(), k -> new ArrayList<>()).add(describe(e));
      allCursor = e.id();
      StreamEvent f = o.next(WAIT);
      assertThat(f.seq()).isEqualTo(marker);
      one.add(f.id());
      oneCursor = f.id();
    }
    ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
    List<Future<?>> done = new ArrayList<>();
    for (Convo c : convos) {
      done.add(writers.submit(() -> write(viaA, alice, c, 30)));
      done.add(writers.submit(() -> write(viaB, bob, c, 30)));
    }
    done.add(writers.submit(() -> {
      for (int i = 0; i < 3; i++) { // members come and go in the middle conversation
        TestUser carol = TestUser.on(b);
        add(viaB, alice, convos.get(1), carol);
        ok(post(viaA, carol, "leaveConvo", Map.of("convoId", convos.get(1).id())));
      }
    }));
    Random random = new Random(42);
    Server[] nodes = {a, b};
    int rounds = 0;
    for (int round = 0; round < 80; round++, rounds++) { // each round resumes both streams once
      boolean writing = done.stream().anyMatch(fu -> !fu.isDone());
      try (SseClient s = stream(nodes[random.nextInt(2)], bob, "", allCursor);
          SseClient o = stream(nodes[random.nextInt(2)], bob, "?convoId=" + convos.get(1).id(), oneCursor)) {
        int take = 1 + random.nextInt(25);
        for (int i = 0; i < take; i++) {
          StreamEvent e = s.poll(Duration.ofMillis(300));
          if (e == null) {
            break;
          }
          all.computeIfAbsent(e.convoId(), k -> new ArrayList<>()).add(describe(e));
          allCursor = e.id();
        }
        for (int i = 0; i < take; i++) {
          StreamEvent e = o.poll(Duration.ofMillis(300));
          if (e == null) {
            break;
          }
          one.add(e.id());
          oneCursor = e.id();
        }
        if (!writing && s.poll(QUIET) == null && o.poll(Duration.ofMillis(50)) == null) {
          break; // caught up after the writers finished
        }
      }
    }
    writers.shutdown();
    for (Future<?> f : done) {
      f.get();
    }
    assertThat(rounds).as("reconnections").isGreaterThanOrEqualTo(10);
    for (Convo c : convos) {
      List<String> expected = after(log(c.id(), bob), startAt.get(c.id())).stream().map(r -> r[1]).toList();
      assertThat(expected).hasSizeGreaterThanOrEqualTo(60);
      assertThat(all.get(c.id())).as("all-conversations stream, conversation %s", c.id()).isEqualTo(expected);
    }
    String middle = convos.get(1).id();
    assertThat(one).as("one-conversation stream")
        .isEqualTo(after(log(middle, bob), startAt.get(middle)).stream().map(r -> r[0]).toList());
  }

  /** The rows after the one at {@code position}. */
  static List<String[]> after(List<String[]> log, String position) {
    for (int i = 0; i < log.size(); i++) {
      if (log.get(i)[0].equals(position)) {
        return log.subList(i + 1, log.size());
      }
    }
    throw new AssertionError("no position " + position);
  }

  private static void write(Http via, TestUser u, Convo c, int n) {
    for (int i = 0; i < n; i++) {
      send(via, u, c);
    }
  }

  /** What identifies an event within its conversation in both the stream and the database. */
  static String describe(StreamEvent e) {
    return switch (e.type()) {
      case "messageEvent" -> "m:" + e.seq();
      case "membershipEvent" -> "e:membershipEvent:" + e.data().get("action").asText() + ":" + e.data().get("did").asText();
      default -> "e:" + e.type() + ":" + e.data().path("did").asText(e.data().path("deviceId").asText());
    };
  }

  /**
   * The conversation's log as {@code member} may see it, read straight from the tables: messages after the
   * commit that added them, events from that commit on that are not someone else's, by position. Each row is
   * {position, description}.
   */
  List<String[]> log(String convo, TestUser member) throws SQLException {
    try (Connection c = DriverManager.getConnection(pg.url())) {
      long joined;
      try (PreparedStatement p = c.prepareStatement("SELECT joined_seq FROM members WHERE convo_id = ? AND did = ?")) {
        p.setString(1, convo);
        p.setString(2, member.did().value());
        try (ResultSet rs = p.executeQuery()) {
          rs.next();
          joined = rs.getLong(1);
        }
      }
      List<Object[]> rows = new ArrayList<>();
      try (PreparedStatement p = c.prepareStatement("SELECT seq FROM messages WHERE convo_id = ? AND seq > ?")) {
        p.setString(1, convo);
        p.setLong(2, joined);
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            rows.add(new Object[] {rs.getLong(1), 0, "m:" + rs.getLong(1)});
          }
        }
      }
      try (PreparedStatement p = c.prepareStatement("""
          SELECT seq, idx, type, payload FROM convo_events WHERE convo_id = ? AND seq >= ?
          AND (recipient_did IS NULL OR recipient_did = ?)""")) {
        p.setString(1, convo);
        p.setLong(2, joined);
        p.setString(3, member.did().value());
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            JsonNode payload = Json.MAPPER.readTree(rs.getString(4));
            String type = rs.getString(3);
            String d = type.equals("membershipEvent")
                ? "e:membershipEvent:" + payload.get("action").asText() + ":" + payload.get("did").asText()
                : "e:" + type + ":" + payload.path("did").asText(payload.path("deviceId").asText());
            rows.add(new Object[] {rs.getLong(1), rs.getInt(2), d});
          }
        } catch (java.io.IOException e) {
          throw new AssertionError(e);
        }
      }
      rows.sort((x, y) -> x[0].equals(y[0]) ? Integer.compare((int) x[1], (int) y[1]) : Long.compare((long) x[0], (long) y[0]));
      return rows.stream().map(r -> new String[] {(int) r[1] == 0 ? r[0].toString() : r[0] + "." + r[1], (String) r[2]}).toList();
    }
  }
}
