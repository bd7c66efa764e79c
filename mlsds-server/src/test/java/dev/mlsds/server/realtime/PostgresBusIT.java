package dev.mlsds.server.realtime;

import static dev.mlsds.server.realtime.RealtimeFixture.add;
import static dev.mlsds.server.realtime.RealtimeFixture.create;
import static dev.mlsds.server.realtime.RealtimeFixture.send;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.realtime.RealtimeFixture.Convo;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The PostgreSQL bus since migration V14: wakes are sent after commit by the writing node, coalesced, on the
 * node's own notify connection. The periodic catch-up is set to an hour here, so whatever reaches the other
 * node within the wait came by NOTIFY.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PostgresBusIT {
  static final Duration WAIT = Duration.ofSeconds(10);
  TestDatabases.Postgres pg;
  Server a;
  Server b;
  Http viaA;

  @BeforeAll
  void start() {
    pg = TestDatabases.postgres();
    RealtimeSettings settings = RealtimeSettings.defaults().withKeepalive(Duration.ofSeconds(1))
        .withCatchUp(Duration.ofHours(1));
    a = Wiring.build(TestServers.config(pg.url()), Clock.systemUTC(), settings).start();
    b = Wiring.build(TestServers.config(pg.url()), Clock.systemUTC(), settings).start();
    viaA = new Http(a.port());
  }

  @AfterAll
  void stop() {
    a.stop();
    b.stop();
    pg.close();
  }

  SseClient stream(Server node, TestUser u, String query) {
    return SseClient.open(node.port(), u.token("streamConvoEvents"), query, null);
  }

  @Test
  void theSchemaNoLongerNotifiesInsideTheWritingTransaction() throws Exception {
    try (Connection c = DriverManager.getConnection(pg.url()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal "
            + "AND tgname IN ('messages_wake', 'convo_events_wake', 'convos_wake')")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }
  }

  @Test
  void messagesAndMembershipReachTheOtherNodeWithoutTheCatchUp() {
    TestUser alice = TestUser.on(a);
    TestUser bob = TestUser.on(a);
    Convo c = create(viaA, alice);
    try (SseClient aliceOnB = stream(b, alice, "?convoId=" + c.id()); SseClient bobOnB = stream(b, bob, "")) {
      long seq = send(viaA, alice, c);
      assertThat(aliceOnB.next(WAIT).seq()).isEqualTo(seq);
      add(viaA, alice, c, bob); // Bob's all-conversations stream on B learns of the conversation by NOTIFY
      List<String> types = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        types.add(bobOnB.next(WAIT).type());
      }
      assertThat(types).containsExactlyInAnyOrder("keyPackagesLowEvent", "membershipEvent", "welcomeEvent");
      long after = send(viaA, alice, c);
      assertThat(bobOnB.next(WAIT).seq()).isEqualTo(after);
    }
  }

  /** Killing the notify connection loses nothing that is sent after: the sender reconnects and resends. */
  @Test
  void aDroppedNotifyConnectionIsReplaced() throws Exception {
    TestUser alice = TestUser.on(a);
    Convo c = create(viaA, alice);
    try (SseClient onB = stream(b, alice, "?convoId=" + c.id())) {
      long first = send(viaA, alice, c);
      assertThat(onB.next(WAIT).seq()).isEqualTo(first);
      try (Connection admin = DriverManager.getConnection(pg.url()); Statement s = admin.createStatement();
          ResultSet rs = s.executeQuery("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
              + "WHERE application_name = 'mlsds-realtime-notify' AND datname = current_database()")) {
        rs.next();
        assertThat(rs.getInt(1)).as("notify connections terminated (node A's at least)").isPositive();
      }
      for (int i = 0; i < 3; i++) { // the first send after the kill fails on the dead connection and is retried
        long seq = send(viaA, alice, c);
        assertThat(onB.next(WAIT).seq()).isEqualTo(seq);
      }
    }
  }

  /** Many concurrent senders: every message reaches the other node's subscriber by NOTIFY, in order. */
  @Test
  void concurrentWritesAllArriveAndWakesCoalesce() throws Exception {
    TestUser alice = TestUser.on(a);
    List<Convo> convos = List.of(create(viaA, alice), create(viaA, alice), create(viaA, alice), create(viaA, alice));
    double sendsBefore = counter(a, "mlsds_realtime_bus_sends_total");
    List<SseClient> streams = new ArrayList<>();
    try {
      for (Convo c : convos) {
        streams.add(stream(b, alice, "?convoId=" + c.id()));
      }
      int perConvo = 40;
      ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
      List<Future<?>> done = new ArrayList<>();
      for (Convo c : convos) {
        for (int w = 0; w < 4; w++) {
          done.add(writers.submit(() -> {
            for (int i = 0; i < perConvo / 4; i++) {
              send(viaA, alice, c);
            }
          }));
        }
      }
      for (Future<?> f : done) {
        f.get();
      }
      writers.shutdown();
      for (SseClient s : streams) {
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < perConvo; i++) {
          seqs.add(s.next(WAIT).seq());
        }
        assertThat(seqs).isSorted().doesNotHaveDuplicates();
        assertThat(s.poll(Duration.ofMillis(300))).isNull();
      }
    } finally {
      streams.forEach(SseClient::close);
    }
    assertThat(counter(a, "mlsds_realtime_bus_sends_total")).as("NOTIFY transactions sent").isGreaterThan(sendsBefore);
  }

  static double counter(Server node, String name) {
    Matcher m = Pattern.compile("(?m)^" + name + "(?:\\{[^}]*\\})? ([0-9.eE+]+)$").matcher(node.metrics().scrape());
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }
}
