package dev.mlsds.server.realtime;

import static dev.mlsds.server.realtime.RealtimeFixture.add;
import static dev.mlsds.server.realtime.RealtimeFixture.create;
import static dev.mlsds.server.realtime.RealtimeFixture.ok;
import static dev.mlsds.server.realtime.RealtimeFixture.post;
import static dev.mlsds.server.realtime.RealtimeFixture.remove;
import static dev.mlsds.server.realtime.RealtimeFixture.send;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.realtime.RealtimeFixture.Convo;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.testing.TestMessages;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
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
 * The event streams over HTTP on a real node, run on every backend (docs/api.md §7): the events and their
 * JSON (checked against the lexicons on every event), exact resume for one conversation and for all, the
 * membership rules applied to open streams, WebSocket tickets, keepalives, slow consumers, bad input.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RealtimeStreamContract {
  static final Duration WAIT = Duration.ofSeconds(10);
  static final Duration QUIET = Duration.ofMillis(400);
  static final RealtimeSettings SETTINGS = RealtimeSettings.defaults().withKeepalive(Duration.ofMillis(300))
      .withBuffer(8, 64 * 1024).withTicketLifetime(Duration.ofSeconds(2)).withCatchUp(Duration.ofMillis(500))
      .withBounds(150 * 1024, 8);
  Server server;
  Http http;
  String dbUrl;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeAll
  void start() {
    dbUrl = newDatabaseUrl();
    server = Wiring.build(TestServers.config(dbUrl), Clock.systemUTC(), SETTINGS).start();
    http = new Http(server.port());
  }

  @AfterAll
  void stop() {
    server.stop();
    dropDatabase();
  }

  TestUser user() {
    return TestUser.on(server);
  }

  SseClient stream(TestUser u, String query) {
    return SseClient.open(server.port(), u.token("streamConvoEvents"), query, null);
  }

  static List<Long> seqs(List<StreamEvent> events) {
    return events.stream().filter(e -> e.type().equals("messageEvent")).map(StreamEvent::seq).toList();
  }

  // ---- one conversation --------------------------------------------------------------------------

  @Test
  void aMemberReceivesMessagesLiveInOrderWithTheirSeqAsId() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    add(http, alice, c, bob);
    try (SseClient s = stream(bob, "?convoId=" + c.id())) {
      long first = send(http, alice, c);
      long second = send(http, alice, c);
      StreamEvent e1 = s.next(WAIT);
      StreamEvent e2 = s.next(WAIT);
      assertThat(e1.type()).isEqualTo("messageEvent");
      assertThat(e1.id()).isEqualTo(Long.toString(first));
      assertThat(e1.data().get("cursor").asText()).isEqualTo(Long.toString(first));
      JsonNode m = e1.data().get("message");
      assertThat(m.get("convoId").asText()).isEqualTo(c.id());
      assertThat(m.get("sender").asText()).isEqualTo(alice.did().value());
      assertThat(m.get("contentType").asText()).isEqualTo("application");
      assertThat(m.get("epoch").asLong()).isEqualTo(1);
      assertThat(m.get("ciphertext").get("$bytes").asText()).isNotEmpty();
      assertThat(e2.seq()).isEqualTo(second);
      assertThat(s.drain(QUIET)).isEmpty();
    }
  }

  @Test
  void resumingFromACursorReplaysExactlyWhatFollowsThenGoesLive() {
    TestUser alice = user();
    Convo c = create(http, alice);
    List<Long> sent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      sent.add(send(http, alice, c));
    }
    try (SseClient s = stream(alice, "?convoId=" + c.id() + "&cursor=" + sent.get(1))) {
      assertThat(seqs(List.of(s.next(WAIT), s.next(WAIT), s.next(WAIT)))).containsExactlyElementsOf(sent.subList(2, 5));
      long live = send(http, alice, c);
      assertThat(s.next(WAIT).seq()).isEqualTo(live);
      assertThat(s.drain(QUIET)).isEmpty();
    }
    // Last-Event-ID (an EventSource reconnecting) wins over the URL's older cursor.
    try (SseClient s = SseClient.open(server.port(), alice.token("streamConvoEvents"),
        "?convoId=" + c.id() + "&cursor=0", Long.toString(sent.get(3)))) {
      assertThat(seqs(s.drain(QUIET))).containsExactly(sent.get(4), sent.get(4) + 1);
    }
  }

  @Test
  void withoutACursorTheStreamStartsAtTheHead() {
    TestUser alice = user();
    Convo c = create(http, alice);
    send(http, alice, c);
    try (SseClient s = stream(alice, "?convoId=" + c.id())) {
      assertThat(s.drain(QUIET)).isEmpty();
      long live = send(http, alice, c);
      assertThat(s.next(WAIT).seq()).isEqualTo(live);
    }
  }

  @Test
  void membershipWelcomeAndReaddEventsCarryTheirPositions() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    try (SseClient a = stream(alice, "?convoId=" + c.id()); SseClient b = stream(bob, "")) {
      add(http, alice, c, bob);
      List<StreamEvent> seen = a.drain(QUIET);
      assertThat(seen).extracting(StreamEvent::type).containsExactly("messageEvent", "membershipEvent");
      assertThat(seen.get(0).data().get("message").get("contentType").asText()).isEqualTo("commit");
      JsonNode added = seen.get(1).data();
      assertThat(added.get("action").asText()).isEqualTo("added");
      assertThat(added.get("did").asText()).isEqualTo(bob.did().value());
      assertThat(added.get("epoch").asLong()).isEqualTo(1);
      assertThat(seen.get(1).id()).isEqualTo(seen.get(0).id() + ".1");
      // Bob's all-conversations stream picked the conversation up: his own membershipEvent and his Welcome,
      // not the commit (he joins through the Welcome).
      List<StreamEvent> bobs = b.drain(QUIET);
      // (Claiming his only KeyPackage also told him to publish more.)
      assertThat(bobs).extracting(StreamEvent::type).containsExactly("keyPackagesLowEvent", "membershipEvent", "welcomeEvent");
      assertThat(bobs.get(2).data().get("convoId").asText()).isEqualTo(c.id());
      assertThat(bobs.get(2).data().get("deviceId").asText()).hasSize(32);
      // Alice does not get Bob's welcomeEvent.
      ok(post(http, bob, "confirmWelcome", Map.of("convoId", c.id(), "success", false, "errorDetails", "no key")));
      StreamEvent readd = a.next(WAIT);
      assertThat(readd.type()).isEqualTo("readdRequestedEvent");
      assertThat(readd.data().get("did").asText()).isEqualTo(bob.did().value());
      assertThat(readd.id()).isEqualTo(seen.get(0).id() + ".3");
    }
  }

  @Test
  void aRemovedMembersStreamsStopCarryingTheConversationAtOnce() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    Convo other = create(http, alice);
    add(http, alice, c, bob);
    add(http, alice, other, bob);
    try (SseClient one = stream(bob, "?convoId=" + c.id()); SseClient all = stream(bob, "")) {
      long before = send(http, alice, c);
      assertThat(one.next(WAIT).seq()).isEqualTo(before);
      assertThat(all.next(WAIT).seq()).isEqualTo(before);
      long removal = remove(http, alice, c, bob);
      for (int i = 0; i < 3; i++) {
        send(http, alice, c);
      }
      long stillThere = send(http, alice, other);
      // The one-conversation stream ends; nothing at or after the removal's commit reached either stream.
      assertThat(one.awaitEnd(WAIT)).isTrue();
      assertThat(one.drain(QUIET)).isEmpty();
      List<StreamEvent> rest = all.drain(QUIET);
      assertThat(rest).allMatch(e -> !c.id().equals(e.convoId()));
      assertThat(seqs(rest)).containsExactly(stillThere);
      assertThat(removal).isGreaterThan(before);
    }
    assertThat(http.get("/xrpc/" + SseClient.NSID + "?convoId=" + c.id(), bob.token("streamConvoEvents")).error())
        .isEqualTo("NotMember");
  }

  @Test
  void leavingStopsTheLeaverAndTellsTheOthers() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    add(http, alice, c, bob);
    try (SseClient a = stream(alice, ""); SseClient b = stream(bob, "")) {
      ok(post(http, bob, "leaveConvo", Map.of("convoId", c.id())));
      StreamEvent left = a.next(WAIT);
      assertThat(left.type()).isEqualTo("membershipEvent");
      assertThat(left.data().get("action").asText()).isEqualTo("left");
      send(http, alice, c);
      assertThat(seqs(a.drain(QUIET))).hasSize(1);
      assertThat(b.drain(QUIET)).isEmpty();
    }
  }

  // ---- all conversations -------------------------------------------------------------------------

  @Test
  void theAllConversationsCursorResumesEveryConversationExactly() {
    TestUser alice = user();
    List<Convo> convos = new ArrayList<>();
    for (int i = 0; i < 12; i++) { // more conversations than a cursor's delta holds
      convos.add(create(http, alice));
    }
    Map<String, List<Long>> sent = new java.util.HashMap<>();
    Map<String, List<Long>> got = new java.util.HashMap<>();
    String cursor = null;
    Random random = new Random(7);
    try (SseClient s = stream(alice, "")) {
      assertThat(s.drain(QUIET)).isEmpty();
      for (int i = 0; i < 30; i++) {
        Convo c = convos.get(random.nextInt(convos.size()));
        sent.computeIfAbsent(c.id(), k -> new ArrayList<>()).add(send(http, alice, c));
      }
      for (int i = 0; i < 10; i++) {
        StreamEvent e = s.next(WAIT);
        got.computeIfAbsent(e.convoId(), k -> new ArrayList<>()).add(e.seq());
        cursor = e.id();
      }
    }
    for (int i = 0; i < 20; i++) {
      Convo c = convos.get(random.nextInt(convos.size()));
      sent.computeIfAbsent(c.id(), k -> new ArrayList<>()).add(send(http, alice, c));
    }
    assertThat(cursor.length()).isLessThan(200);
    try (SseClient s = SseClient.open(server.port(), alice.token("streamConvoEvents"), "", cursor)) {
      for (StreamEvent e : s.drain(QUIET)) {
        got.computeIfAbsent(e.convoId(), k -> new ArrayList<>()).add(e.seq());
      }
    }
    assertThat(got).isEqualTo(sent);
  }

  @Test
  void aNewConversationJoinsTheCreatorsOpenStream() {
    TestUser alice = user();
    try (SseClient s = stream(alice, "")) {
      assertThat(s.drain(QUIET)).isEmpty();
      Convo c = create(http, alice);
      SseClient.sleep(300);
      long seq = send(http, alice, c);
      StreamEvent e = s.next(WAIT);
      assertThat(e.convoId()).isEqualTo(c.id());
      assertThat(e.seq()).isEqualTo(seq);
    }
  }

  @Test
  void keyPackagesLowEventsReachTheOwnersStreams() {
    TestUser alice = user();
    TestUser bob = user();
    TestUser.Device phone = bob.device();
    ok(post(http, bob, "publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", TestUser.bytes(phone.keyPackage()))))));
    try (SseClient b = stream(bob, "")) {
      ok(http.get("/xrpc/" + TestUser.NS + "getKeyPackages?dids=" + bob.did().value(), alice.token("getKeyPackages")));
      StreamEvent low = b.next(WAIT);
      assertThat(low.type()).isEqualTo("keyPackagesLowEvent");
      assertThat(low.id()).isNull();
      assertThat(low.data().get("deviceId").asText()).isEqualTo(phone.deviceId());
      assertThat(low.data().get("available").asInt()).isZero();
    }
  }

  // ---- keepalive, slow consumers, errors ----------------------------------------------------------

  @Test
  void idleStreamsGetKeepalives() {
    try (SseClient s = stream(user(), "")) {
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (s.keepalives.get() < 2 && System.nanoTime() < deadline) { // bounded by the deadline
        SseClient.sleep(50);
      }
      assertThat(s.keepalives.get()).isGreaterThanOrEqualTo(2);
    }
  }

  @Test
  void aConsumerThatStopsReadingGetsSlowConsumerAndIsDisconnected() throws Exception {
    TestUser alice = user();
    Convo c = create(http, alice);
    try (Socket raw = new Socket()) {
      raw.setReceiveBufferSize(4096);
      raw.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
      raw.setSoTimeout((int) WAIT.toMillis());
      OutputStream out = raw.getOutputStream();
      out.write(("GET /xrpc/" + SseClient.NSID + "?convoId=" + c.id() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Authorization: Bearer " + alice.token("streamConvoEvents") + "\r\nAccept: text/event-stream\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      SseClient.sleep(300);
      // Far more than the socket buffers and the 8-event outbox hold, while the client reads nothing.
      for (int i = 0; i < 30; i++) {
        RealtimeFixture.sendLarge(http, alice, c, 256 * 1024);
      }
      SseClient.sleep(500);
      InputStream in = raw.getInputStream();
      String all = new String(in.readAllBytes(), StandardCharsets.UTF_8); // the server closes the connection
      assertThat(all).startsWith("HTTP/1.1 200");
      // The stream began with "ready" and ends with "slow-consumer", its cursor the last event's.
      assertThat(all).containsPattern("event: infoEvent\ndata: \\{\"\\$type\":\"blue.catbird.mls.streamConvoEvents#infoEvent\","
          + "\"cursor\":\"[0-9]+\",\"info\":\"ready\"}");
      assertThat(all).containsPattern("id: ([0-9]+)\nevent: infoEvent\ndata: \\{\"\\$type\":\"blue.catbird.mls.streamConvoEvents#infoEvent\","
          + "\"cursor\":\"\\1\",\"info\":\"slow-consumer\",\"reason\":\"slow-consumer\"}");
      assertThat(all.indexOf("slow-consumer")).isGreaterThan(all.lastIndexOf("messageEvent"));
    }
  }

  @Test
  void badRequestsAreNamedErrorsNotStreams() {
    TestUser alice = user();
    TestUser stranger = user();
    Convo c = create(http, alice);
    send(http, alice, c);
    String path = "/xrpc/" + SseClient.NSID;
    assertThat(http.get(path + "?convoId=" + c.id() + "&cursor=abc", alice.token("streamConvoEvents")).error())
        .isEqualTo("InvalidRequest");
    assertThat(http.get(path + "?convoId=" + c.id() + "&cursor=99", alice.token("streamConvoEvents")).error())
        .isEqualTo("InvalidRequest");
    assertThat(http.get(path + "?cursor=12", alice.token("streamConvoEvents")).error()).isEqualTo("InvalidRequest");
    assertThat(http.get(path + "?cursor=AAAAAAAAAAAAAAAA", alice.token("streamConvoEvents")).error())
        .isEqualTo("InvalidRequest");
    assertThat(http.get(path + "?convoId=xyz", alice.token("streamConvoEvents")).error()).isEqualTo("InvalidRequest");
    var forbidden = http.get(path + "?convoId=" + c.id(), stranger.token("streamConvoEvents"));
    assertThat(forbidden.status()).isEqualTo(403);
    assertThat(forbidden.error()).isEqualTo("NotMember");
    assertThat(http.get(path + "?convoId=abcdef", alice.token("streamConvoEvents")).error()).isEqualTo("ConvoNotFound");
    assertThat(http.get(path, null).error()).isEqualTo("AuthenticationRequired");
    assertThat(http.get(path, alice.token("getConvos")).error()).isEqualTo("BadTokenMethod");
  }

  @Test
  void anotherUsersAllConversationsCursorIsRefused() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    String cursor;
    try (SseClient s = stream(alice, "")) {
      s.drain(Duration.ofMillis(200));
      send(http, alice, c);
      cursor = s.next(WAIT).id();
    }
    assertThat(http.get("/xrpc/" + SseClient.NSID + "?cursor=" + cursor, bob.token("streamConvoEvents")).error())
        .isEqualTo("InvalidRequest");
    // A cursor edited to point past a log would silently skip what comes before: refused.
    String base = cursor.contains("~") ? cursor.substring(0, cursor.indexOf('~')) : cursor;
    assertThat(http.get("/xrpc/" + SseClient.NSID + "?cursor=" + base + "~0:999", alice.token("streamConvoEvents")).error())
        .isEqualTo("InvalidRequest");
  }

  // ---- bounds --------------------------------------------------------------------------------------

  @Test
  void backfillPagesAreCutByBytesAndStillCarryEverything() {
    TestUser alice = user();
    Convo c = create(http, alice);
    List<Long> sent = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      sent.add(RealtimeFixture.sendLarge(http, alice, c, 100 * 1024));
      sent.add(send(http, alice, c));
    }
    // One read holds at most the budget (150 KiB here), or one entry larger than it.
    StreamStore.Page first = server.database().withHandle(h -> new StreamStore().page(h, c.id(), LogPosition.START,
        StreamStore.PAGE, SETTINGS.backfillPageBytes()));
    assertThat(first.entries()).hasSize(2);
    assertThat(first.more()).isTrue();
    StreamStore.Page rest = server.database().withHandle(h -> new StreamStore().page(h, c.id(), new LogPosition(sent.get(6), 0),
        StreamStore.PAGE, SETTINGS.backfillPageBytes()));
    assertThat(rest.entries()).hasSize(1);
    assertThat(rest.more()).isFalse();
    try (SseClient s = stream(alice, "?convoId=" + c.id() + "&cursor=0")) {
      assertThat(seqs(s.drain(QUIET))).containsExactlyElementsOf(sent);
    }
  }

  @Test
  void aDidHasABoundedNumberOfOpenStreams() {
    TestUser alice = user();
    List<SseClient> open = new ArrayList<>();
    try {
      for (int i = 0; i < SETTINGS.streamsPerDid(); i++) {
        open.add(stream(alice, ""));
      }
      Http.Response refused = http.get("/xrpc/" + SseClient.NSID, alice.token("streamConvoEvents"));
      assertThat(refused.status()).isEqualTo(429);
      assertThat(refused.error()).isEqualTo("RateLimitExceeded");
      assertThat(WsClient.open(wsUrl(ticket(alice), "")).status()).isEqualTo(429);
    } finally {
      open.forEach(SseClient::close);
    }
    // Closed streams free their places (the server notices a gone client at its next keepalive).
    long deadline = System.nanoTime() + WAIT.toNanos();
    int status = 429;
    while (status == 429 && System.nanoTime() < deadline) { // bounded by the deadline
      SseClient.sleep(200);
      // A bad cursor is checked after the cap: 400 means the cap let the request through.
      status = http.get("/xrpc/" + SseClient.NSID + "?cursor=x", alice.token("streamConvoEvents")).status();
    }
    assertThat(status).isEqualTo(400);
    try (SseClient s = stream(alice, "")) {
      assertThat(s.start).isNotNull();
    }
  }

  // ---- lost wakes ---------------------------------------------------------------------------------

  /**
   * A connection that writes behind the server's back: no service call wakes anyone in process and, on
   * PostgreSQL, triggers are off for the session, so the NOTIFY a commit would send is dropped too.
   */
  Connection behindTheServersBack() throws SQLException {
    Connection c = DriverManager.getConnection(dbUrl);
    if (dbUrl.startsWith("jdbc:postgresql:")) {
      try (Statement s = c.createStatement()) {
        s.execute("SET session_replication_role = replica");
      }
    }
    c.setAutoCommit(false);
    return c;
  }

  static long latestSeq(Connection c, Convo convo) throws SQLException {
    try (PreparedStatement p = c.prepareStatement("SELECT latest_seq FROM convos WHERE id = ?")) {
      p.setString(1, convo.id());
      try (ResultSet rs = p.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** Appends an application message as the server would, without any wake; returns its seq. */
  long appendSilently(Convo convo, TestUser sender) throws SQLException {
    try (Connection c = behindTheServersBack()) {
      long seq = latestSeq(c, convo) + 1;
      try (PreparedStatement p = c.prepareStatement("""
          INSERT INTO messages (convo_id, seq, id, sender_did, epoch, content_type, data, created_at)
          VALUES (?, ?, ?, ?, ?, 'application', ?, ?)""")) {
        p.setString(1, convo.id());
        p.setLong(2, seq);
        p.setString(3, java.util.UUID.randomUUID().toString().replace("-", ""));
        p.setString(4, sender.did().value());
        p.setLong(5, convo.epoch);
        p.setBytes(6, TestMessages.privateMessage(convo.groupId, convo.epoch, ContentType.APPLICATION));
        p.setLong(7, System.currentTimeMillis());
        p.executeUpdate();
      }
      try (PreparedStatement p = c.prepareStatement("UPDATE convos SET latest_seq = ? WHERE id = ?")) {
        p.setLong(1, seq);
        p.setString(2, convo.id());
        p.executeUpdate();
      }
      c.commit();
      return seq;
    }
  }

  @Test
  void aWriteWhoseWakeWasLostArrivesWithTheCatchUp() throws Exception {
    TestUser alice = user();
    Convo c = create(http, alice);
    try (SseClient one = stream(alice, "?convoId=" + c.id()); SseClient all = stream(alice, "")) {
      long seq = appendSilently(c, alice);
      assertThat(one.next(WAIT).seq()).isEqualTo(seq);
      assertThat(all.next(WAIT).seq()).isEqualTo(seq);
    }
  }

  @Test
  void aMembershipWhoseWakeWasLostIsPickedUpByTheCatchUp() throws Exception {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    send(http, alice, c);
    try (SseClient all = stream(bob, "")) {
      try (Connection db = behindTheServersBack()) {
        long at = latestSeq(db, c);
        long now = System.currentTimeMillis();
        try (PreparedStatement p = db.prepareStatement("""
            INSERT INTO members (convo_id, did, role, active, joined_at, joined_seq) VALUES (?, ?, 'member', TRUE, ?, ?)""")) {
          p.setString(1, c.id());
          p.setString(2, bob.did().value());
          p.setLong(3, now);
          p.setLong(4, at);
          p.executeUpdate();
        }
        try (PreparedStatement p = db.prepareStatement("""
            INSERT INTO convo_events (convo_id, seq, idx, type, payload, recipient_did, created_at)
            VALUES (?, ?, 1, 'membershipEvent', ?, NULL, ?)""")) {
          p.setString(1, c.id());
          p.setLong(2, at);
          p.setString(3, "{\"convoId\":\"" + c.id() + "\",\"did\":\"" + bob.did().value() + "\",\"action\":\"added\",\"epoch\":0}");
          p.setLong(4, now);
          p.executeUpdate();
        }
        db.commit();
      }
      StreamEvent added = all.next(WAIT);
      assertThat(added.type()).isEqualTo("membershipEvent");
      assertThat(added.data().get("did").asText()).isEqualTo(bob.did().value());
      long seq = appendSilently(c, alice);
      assertThat(all.next(WAIT).seq()).isEqualTo(seq);
    }
  }

  // ---- WebSocket ----------------------------------------------------------------------------------

  String ticket(TestUser u) {
    JsonNode t = ok(post(http, u, "getSubscriptionTicket", Map.of())).json();
    assertThat(t.get("endpoint").asText()).isEqualTo("ws://127.0.0.1:" + server.port() + "/xrpc/" + WsClient.NSID);
    return t.get("ticket").asText();
  }

  String wsUrl(String ticket, String query) {
    return "ws://127.0.0.1:" + server.port() + "/xrpc/" + WsClient.NSID + "?ticket=" + ticket + query;
  }

  @Test
  void theWebSocketCarriesTheSameEventsAsServerSentEvents() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    send(http, alice, c);
    WsClient.Opened ws = WsClient.open(wsUrl(ticket(alice), "&cursor=0&convoId=" + c.id()));
    assertThat(ws.status()).isEqualTo(101);
    WsClient.Opened json = WsClient.open(wsUrl(ticket(alice), "&cursor=0&encoding=json&convoId=" + c.id()));
    assertThat(json.status()).isEqualTo(101);
    try (WsClient w = ws.client(); WsClient j = json.client(); SseClient s = stream(alice, "?cursor=0&convoId=" + c.id())) {
      assertThat(List.of(w.start, j.start)).containsOnly(s.start);
      add(http, alice, c, bob);
      send(http, alice, c);
      List<StreamEvent> sse = s.drain(QUIET);
      assertThat(sse).hasSize(4);
      for (WsClient client : List.of(w, j)) { // binary DAG-CBOR frames, and JSON text frames
        List<StreamEvent> frames = new ArrayList<>();
        for (int i = 0; i < sse.size(); i++) {
          frames.add(client.next(WAIT));
        }
        assertThat(frames).isEqualTo(sse);
        assertThat(client.poll(QUIET)).isNull();
      }
    }
    assertThat(WsClient.open(wsUrl(ticket(alice), "&encoding=xml")).status()).isEqualTo(400);
  }

  /** A group reset reaches every member's stream as groupResetEvent, over SSE and both WebSocket encodings. */
  @Test
  void aGroupResetReachesEveryMemberOnEveryTransport() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    add(http, alice, c, bob);
    WsClient.Opened ws = WsClient.open(wsUrl(ticket(bob), "&convoId=" + c.id()));
    WsClient.Opened json = WsClient.open(wsUrl(ticket(bob), "&encoding=json&convoId=" + c.id()));
    try (WsClient w = ws.client(); WsClient j = json.client(); SseClient s = stream(bob, "?convoId=" + c.id());
        SseClient a = stream(alice, "?convoId=" + c.id())) {
      byte[] g2 = RealtimeFixture.reset(http, alice, c, bob);
      // (Claiming Bob's KeyPackage may also tell him, live, to publish more: not part of this.)
      List<StreamEvent> sse = s.drain(QUIET).stream().filter(x -> !x.type().equals("keyPackagesLowEvent")).toList();
      // The reset's commit, Bob's Welcome to the new group, then the reset itself.
      assertThat(sse).extracting(StreamEvent::type).containsExactly("messageEvent", "welcomeEvent", "groupResetEvent");
      JsonNode e = sse.get(2).data();
      assertThat(e.get("convoId").asText()).isEqualTo(c.id());
      assertThat(e.get("groupId").asText()).isEqualTo(java.util.HexFormat.of().formatHex(g2));
      assertThat(e.get("previousGroupId").asText()).isEqualTo(c.id());
      assertThat(e.get("epoch").asLong()).isEqualTo(1);
      assertThat(e.get("resetSeq").asLong()).isEqualTo(sse.get(0).seq());
      assertThat(e.get("resetBy").asText()).isEqualTo(alice.did().value());
      assertThat(e.get("reason").asText()).isEqualTo("epoch 1 is unusable");
      for (WsClient client : List.of(w, j)) {
        List<StreamEvent> frames = new ArrayList<>();
        while (frames.size() < sse.size()) {
          StreamEvent f = client.next(WAIT);
          if (!f.type().equals("keyPackagesLowEvent")) {
            frames.add(f);
          }
        }
        assertThat(frames).isEqualTo(sse);
      }
      assertThat(a.drain(QUIET)).extracting(StreamEvent::type).containsExactly("messageEvent", "groupResetEvent");
    }
  }

  @Test
  void aWebSocketThatLosesItsConversationEndsWithAnErrorFrame() {
    TestUser alice = user();
    TestUser bob = user();
    Convo c = create(http, alice);
    add(http, alice, c, bob);
    WsClient.Opened ws = WsClient.open(wsUrl(ticket(bob), "&convoId=" + c.id()));
    assertThat(ws.status()).isEqualTo(101);
    try (WsClient w = ws.client()) {
      remove(http, alice, c, bob);
      assertThat(w.poll(WAIT)).isNull();
      assertThat(w.error()).isEqualTo("NotMember");
    }
  }

  @Test
  void aTicketIsSingleUseAndExpires() {
    TestUser alice = user();
    String t = ticket(alice);
    WsClient.Opened first = WsClient.open(wsUrl(t, ""));
    assertThat(first.status()).isEqualTo(101);
    first.client().close();
    assertThat(WsClient.open(wsUrl(t, "")).status()).isEqualTo(401);
    String late = ticket(alice);
    SseClient.sleep(SETTINGS.ticketLifetime().toMillis() + 500);
    assertThat(WsClient.open(wsUrl(late, "")).status()).isEqualTo(401);
    assertThat(WsClient.open(wsUrl("nonsense", "")).status()).isEqualTo(401);
    assertThat(WsClient.open("ws://127.0.0.1:" + server.port() + "/xrpc/" + WsClient.NSID).status()).isEqualTo(401);
  }

  @Test
  void aStrangerCannotSubscribeToAConversationOverWebSocket() {
    TestUser alice = user();
    TestUser stranger = user();
    Convo c = create(http, alice);
    assertThat(WsClient.open(wsUrl(ticket(stranger), "&convoId=" + c.id())).status()).isEqualTo(403);
    assertThat(WsClient.open(wsUrl(ticket(alice), "&convoId=" + c.id() + "&cursor=x")).status()).isEqualTo(400);
  }

  // ---- exactness under concurrent writers ---------------------------------------------------------

  @Test
  void resumingAtRandomPointsWhileOthersWriteMissesNothingAndRepeatsNothing() throws Exception {
    TestUser alice = user();
    TestUser bob = user();
    List<Convo> convos = List.of(create(http, alice), create(http, alice), create(http, alice));
    for (Convo c : convos) {
      add(http, alice, c, bob);
    }
    Map<String, List<Long>> got = new java.util.HashMap<>();
    String cursor;
    try (SseClient s = stream(bob, "")) {
      s.drain(QUIET); // his keyPackagesLowEvents; the stream now starts at every log's head
      long marker = send(http, alice, convos.get(0));
      StreamEvent e = s.next(WAIT);
      assertThat(e.seq()).isEqualTo(marker);
      got.computeIfAbsent(e.convoId(), k -> new ArrayList<>()).add(e.seq());
      cursor = e.id();
    }
    ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
    List<Future<?>> done = new ArrayList<>();
    for (TestUser w : List.of(alice, bob)) {
      for (Convo c : convos) {
        done.add(writers.submit(() -> {
          for (int i = 0; i < 40; i++) {
            send(http, w, c);
          }
        }));
      }
    }
    Random random = new Random(11);
    for (int round = 0; round < 60 && !(allDone(done) && got.equals(expectedLog(convos, bob))); round++) {
      try (SseClient s = SseClient.open(server.port(), bob.token("streamConvoEvents"), "", cursor)) {
        int take = 1 + random.nextInt(15);
        for (int i = 0; i < take; i++) {
          StreamEvent e = s.poll(Duration.ofMillis(500));
          if (e == null) {
            break;
          }
          got.computeIfAbsent(e.convoId(), k -> new ArrayList<>()).add(e.seq());
          cursor = e.id();
        }
      }
    }
    writers.shutdown();
    for (Future<?> f : done) {
      f.get();
    }
    assertThat(got).isEqualTo(expectedLog(convos, bob));
  }

  @Test
  void manyStreamsOfOneConversationGetEveryMessageOnceInOrderWhileSendersRace() throws Exception {
    TestUser alice = user();
    TestUser bob = user();
    TestUser carol = user();
    Convo c = create(http, alice);
    add(http, alice, c, bob, carol);
    List<SseClient> streams = new ArrayList<>();
    List<Boolean> allConvos = new ArrayList<>();
    try {
      for (TestUser u : List.of(alice, bob, carol)) {
        for (int i = 0; i < 4; i++) { // one-conversation and all-conversations streams, written by the same feed
          boolean all = i % 2 == 1;
          SseClient s = stream(u, all ? "" : "?convoId=" + c.id());
          s.drain(QUIET); // "ready" and, all-conversations, keyPackagesLowEvents
          streams.add(s);
          allConvos.add(all);
        }
      }
      ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
      List<Future<?>> done = new ArrayList<>();
      List<Long> sent = java.util.Collections.synchronizedList(new ArrayList<>());
      for (TestUser w : List.of(alice, bob, carol)) {
        done.add(writers.submit(() -> {
          for (int i = 0; i < 30; i++) {
            sent.add(send(http, w, c));
          }
        }));
      }
      writers.shutdown();
      for (Future<?> f : done) {
        f.get();
      }
      List<Long> expected = sent.stream().sorted().toList();
      assertThat(expected).hasSize(90);
      for (int i = 0; i < streams.size(); i++) {
        List<Long> got = new ArrayList<>();
        while (got.size() < expected.size()) { // each poll waits at most WAIT
          StreamEvent e = streams.get(i).poll(WAIT);
          if (e == null) {
            break;
          }
          if (e.type().equals("messageEvent")) {
            got.add(e.seq());
          }
        }
        assertThat(got).as("stream %d (all conversations: %s)", i, allConvos.get(i)).isEqualTo(expected);
      }
    } finally {
      streams.forEach(SseClient::close);
    }
  }

  @Test
  void aStalledConsumerDoesNotHoldUpTheOthers() throws Exception {
    // A node of its own with the default outbox (1,000 events / 16 MiB), so that under a loaded machine
    // the readers are never cut as slow consumers themselves: this test is about the stalled one's
    // effect on them (cutting a slow consumer is aConsumerThatStopsReadingGetsSlowConsumerAndIsDisconnected).
    Server node = Wiring.build(TestServers.config(dbUrl), Clock.systemUTC(),
        SETTINGS.withBuffer(1000, 16L * 1024 * 1024)).start();
    try {
      Http via = new Http(node.port());
      TestUser alice = TestUser.on(node);
      TestUser bob = TestUser.on(node);
      TestUser carol = TestUser.on(node);
      Convo c = create(via, alice);
      add(via, alice, c, bob, carol);
      try (Socket stalled = new Socket();
          SseClient b = SseClient.open(node.port(), bob.token("streamConvoEvents"), "?convoId=" + c.id(), null);
          SseClient all = SseClient.open(node.port(), carol.token("streamConvoEvents"), "", null)) {
        stalled.setReceiveBufferSize(4096);
        stalled.connect(new InetSocketAddress("127.0.0.1", node.port()), 5000);
        stalled.getOutputStream().write(("GET /xrpc/" + SseClient.NSID + "?convoId=" + c.id() + " HTTP/1.1\r\n"
            + "Host: 127.0.0.1\r\nAuthorization: Bearer " + alice.token("streamConvoEvents")
            + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        stalled.getOutputStream().flush();
        b.drain(QUIET);
        all.drain(QUIET);
        // Far more than the stalled client's socket buffers hold (it reads nothing): the feed writing to
        // it must not wait for it, or the others would stall behind it until its write timed out.
        List<Long> sent = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
          sent.add(RealtimeFixture.sendLarge(via, alice, c, 256 * 1024));
        }
        for (SseClient s : List.of(b, all)) {
          List<Long> got = new ArrayList<>();
          while (got.size() < sent.size()) { // each poll waits at most WAIT
            StreamEvent e = s.poll(WAIT);
            if (e == null) {
              break;
            }
            if (e.type().equals("messageEvent")) {
              got.add(e.seq());
            }
          }
          assertThat(got).isEqualTo(sent);
        }
      }
    } finally {
      node.stop();
    }
  }

  static boolean allDone(List<Future<?>> fs) {
    return fs.stream().allMatch(Future::isDone);
  }

  /** Every message {@code member} may read in each conversation, from the database (getMessages). */
  Map<String, List<Long>> expectedLog(List<Convo> convos, TestUser member) {
    Map<String, List<Long>> out = new java.util.HashMap<>();
    for (Convo c : convos) {
      JsonNode page = ok(http.get("/xrpc/" + TestUser.NS + "getMessages?convoId=" + c.id() + "&limit=500",
          member.token("getMessages"))).json();
      List<Long> seqs = new ArrayList<>();
      page.get("messages").forEach(m -> seqs.add(m.get("seq").asLong()));
      out.put(c.id(), seqs);
    }
    return out;
  }
}
