package dev.mlsds.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cursor grammar and the all-conversations cursor records (docs/realtime.md, "Cursors"). */
class RealtimeCursorTest {
  static final Did ALICE = new Did("did:plc:alice");
  static final Did BOB = new Did("did:plc:bob");
  Database db;
  StreamCursors cursors;

  @BeforeEach
  void open() {
    db = Database.open(TestDatabases.sqlite(), null);
    db.migrate();
    cursors = new StreamCursors(db, Clock.systemUTC(), Duration.ofDays(7));
  }

  @AfterEach
  void close() {
    db.close();
  }

  int bases() {
    return db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM stream_cursors").mapTo(Integer.class).one());
  }

  @Test
  void oneConversationCursorsArePositions() {
    assertThat(StreamCursors.parseInConvo("0")).isEqualTo(LogPosition.START);
    assertThat(StreamCursors.parseInConvo("12")).isEqualTo(new LogPosition(12, 0));
    assertThat(StreamCursors.parseInConvo("12.3")).isEqualTo(new LogPosition(12, 3));
    assertThat(new LogPosition(12, 3).toString()).isEqualTo("12.3");
    assertThat(new LogPosition(12, 0).toString()).isEqualTo("12");
    assertThat(new LogPosition(12, 1)).isGreaterThan(new LogPosition(12, 0)).isLessThan(new LogPosition(13, 0));
    for (String bad : new String[] {"", "-1", "01", "12.0", "12.01", "1.2.3", "a", " 1", "1e3", "9".repeat(19)}) {
      assertThatThrownBy(() -> StreamCursors.parseInConvo(bad)).as(bad).isInstanceOf(XrpcException.class)
          .extracting(e -> ((XrpcException) e).error()).isEqualTo(XrpcError.InvalidRequest);
    }
  }

  @Test
  void mostEventsMoveTheDeltaAndOnlySomeWriteABase() {
    StreamCursors.Tracker t = cursors.fresh(ALICE);
    Map<String, LogPosition> carried = new HashMap<>();
    for (int i = 0; i < 10; i++) {
      carried.put("c" + i, new LogPosition(5, 0));
    }
    String first = move(t, carried, "c0", new LogPosition(6, 0));
    assertThat(first).matches("[A-Za-z0-9_-]{16}");
    assertThat(bases()).isEqualTo(1);
    String second = move(t, carried, "c3", new LogPosition(6, 2));
    assertThat(second).isEqualTo(first + "~3:6.2");
    String third = move(t, carried, "c0", new LogPosition(7, 0));
    assertThat(third).isEqualTo(first + "~0:7,3:6.2");
    for (int i = 1; i < 8; i++) { // eight conversations moved: the delta is full
      move(t, carried, "c" + i, new LogPosition(8, 0));
    }
    assertThat(bases()).isEqualTo(1);
    String rebased = move(t, carried, "c9", new LogPosition(9, 0));
    assertThat(rebased).matches("[A-Za-z0-9_-]{16}").isNotEqualTo(first);
    assertThat(bases()).isEqualTo(2);
    Map<String, LogPosition> atRebase = Map.copyOf(carried);
    carried.put("new", LogPosition.START);
    assertThat(move(t, carried, "new", new LogPosition(1, 1))).matches("[A-Za-z0-9_-]{16}");
    assertThat(bases()).isEqualTo(3);

    assertThat(cursors.resume(ALICE, third).resumeAt()).containsAllEntriesOf(Map.of(
        "c0", new LogPosition(7, 0), "c3", new LogPosition(6, 2), "c1", new LogPosition(5, 0)));
    StreamCursors.Tracker resumed = cursors.resume(ALICE, rebased);
    assertThat(resumed.resumed()).isTrue();
    assertThat(resumed.resumeAt()).isEqualTo(atRebase);
  }

  private static String move(StreamCursors.Tracker t, Map<String, LogPosition> carried, String convo, LogPosition at) {
    carried.put(convo, at);
    return t.idFor(convo, at, carried);
  }

  @Test
  void aCursorIsOnlyReadBackForItsUserAndMustBeWellFormed() {
    StreamCursors.Tracker t = cursors.fresh(ALICE);
    Map<String, LogPosition> carried = new HashMap<>(Map.of("a", LogPosition.START, "b", LogPosition.START));
    String base = move(t, carried, "a", new LogPosition(1, 0));
    assertThat(cursors.resume(ALICE, base + "~1:4").resumeAt()).containsEntry("b", new LogPosition(4, 0));
    for (String bad : new String[] {base + "~2:4", base + "~1:4,1:5", base + "~1:04", base + "~x", base + "~",
        "AAAAAAAAAAAAAAAA", "short", base + "~" + "0:1,".repeat(9) + "0:1", "12"}) {
      assertThatThrownBy(() -> cursors.resume(ALICE, bad)).as(bad).isInstanceOf(XrpcException.class)
          .extracting(e -> ((XrpcException) e).error()).isEqualTo(XrpcError.InvalidRequest);
    }
    assertThatThrownBy(() -> cursors.resume(BOB, base)).isInstanceOf(XrpcException.class);
  }

  @Test
  void basesPastTheRetentionAreDeletedAndTheirCursorsRefused() {
    Clock then = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
    StreamCursors old = new StreamCursors(db, then, Duration.ofDays(7));
    String base = move(old.fresh(ALICE), new HashMap<>(Map.of("a", LogPosition.START)), "a", new LogPosition(1, 0));
    assertThat(cursors.purge()).isEqualTo(1);
    assertThatThrownBy(() -> cursors.resume(ALICE, base)).isInstanceOf(XrpcException.class);
  }
}
