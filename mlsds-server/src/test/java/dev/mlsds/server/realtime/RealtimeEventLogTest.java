package dev.mlsds.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.testing.TestDatabases;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link ConvoEventLog} wakes a member's streams after — and only after — a membership change commits. */
class RealtimeEventLogTest {
  Database db;
  final List<String> woken = new ArrayList<>();
  final Notifier recorder = new Notifier() {
    @Override
    public void convoChanged(String convoId) {}

    @Override
    public void membershipChanged(String convoId, Did did) {
      woken.add(convoId + " " + did.value());
    }

    @Override
    public void userEvent(Did did, String type, String payloadJson) {}
  };

  @BeforeEach
  void open() {
    db = Database.open(TestDatabases.sqlite(), null);
    db.migrate();
    db.withHandle(h -> h.execute("INSERT INTO convos (id, creator_did, cipher_suite, epoch, created_at) VALUES ('ab', 'did:plc:a', 1, 0, 0)"));
  }

  @AfterEach
  void close() {
    db.close();
  }

  static Map<String, Object> membership(String did, String action) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("convoId", "ab");
    m.put("did", did);
    m.put("action", action);
    m.put("epoch", 1);
    return m;
  }

  @Test
  void membershipEventsWakeTheMemberAfterCommit() {
    ConvoEventLog log = new ConvoEventLog(db.dialect(), recorder);
    db.inTransaction(h -> {
      log.append(h, "ab", "membershipEvent", membership("did:plc:bob", "added"), null, 1);
      log.append(h, "ab", "welcomeEvent", Map.of("convoId", "ab", "deviceId", "00"), new Did("did:plc:bob"), 1);
      assertThat(woken).isEmpty();
      return null;
    });
    assertThat(woken).containsExactly("ab did:plc:bob");
    List<String> stored = db.withHandle(h -> h.createQuery("SELECT seq || '.' || idx || ' ' || type FROM convo_events ORDER BY idx")
        .mapTo(String.class).list());
    assertThat(stored).containsExactly("0.1 membershipEvent", "0.2 welcomeEvent");
  }

  @Test
  void aRolledBackChangeWakesNobody() {
    ConvoEventLog log = new ConvoEventLog(db.dialect(), recorder);
    assertThatThrownBy(() -> db.inTransaction(h -> {
      log.append(h, "ab", "membershipEvent", membership("did:plc:bob", "removed"), null, 1);
      throw new IllegalStateException("the commit lost");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(woken).isEmpty();
  }
}
