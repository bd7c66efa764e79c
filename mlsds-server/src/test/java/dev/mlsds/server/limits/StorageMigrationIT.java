package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.storage.Dialect;
import dev.mlsds.server.testing.TestDatabases;
import java.util.List;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * V9 on a database that already holds Welcomes and messages: each Welcome delivery's bytes move to a
 * blob it points at, still served to its device, and each sender's stored messages are counted.
 */
class StorageMigrationIT {
  @Test
  @DisplayName("V9 moves stored Welcomes into blobs and counts stored messages (SQLite)")
  void sqlite() {
    upgrade(TestDatabases.sqlite());
  }

  @Test
  @DisplayName("V9 moves stored Welcomes into blobs and counts stored messages (PostgreSQL)")
  void postgres() {
    try (TestDatabases.Postgres pg = TestDatabases.postgres()) {
      upgrade(pg.url());
    }
  }

  void upgrade(String url) {
    Flyway.configure().dataSource(url, null, null).locations(Dialect.forUrl(url).migrationLocation()).target("6")
        .load().migrate();
    try (Database db = Database.open(url, null)) {
      db.withHandle(h -> {
        h.execute("INSERT INTO convos (id, creator_did, cipher_suite, epoch, created_at) VALUES ('aa01', 'did:plc:alice', 1, 1, 0)");
        h.execute("""
            INSERT INTO welcomes (convo_id, key_package_ref, did, device_id, data, state, created_at)
            VALUES ('aa01', 'r1', 'did:plc:bob', 'd1', ?, 'pending', 5), ('aa01', 'r2', 'did:plc:bob', 'd2', ?, 'consumed', 6)""",
            new byte[] {1, 2, 3}, new byte[] {1, 2, 3});
        return h.execute("""
            INSERT INTO messages (convo_id, seq, id, sender_did, epoch, content_type, data, created_at)
            VALUES ('aa01', 1, 'm1', 'did:plc:alice', 1, 'application', ?, 0),
                   ('aa01', 2, 'm2', 'did:plc:alice', 1, 'application', ?, 0)""", new byte[10], new byte[20]);
      });
      db.migrate();
      List<WelcomeStore.Delivery> bob = db.withHandle(h -> new WelcomeStore().forRecipient(h, new ConvoId("aa01"),
          new Did("did:plc:bob")));
      assertThat(bob).hasSize(2).allSatisfy(d -> assertThat(d.data()).containsExactly(1, 2, 3));
      assertThat(bob).extracting(WelcomeStore.Delivery::state).containsExactlyInAnyOrder("pending", "consumed");
      long blobs = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM welcome_blobs WHERE sender_did IS NULL")
          .mapTo(Long.class).one());
      assertThat(blobs).isEqualTo(2);
      long[] alice = db.withHandle(h -> new Quotas(StorageLimits.defaults()).usage(h, new Did("did:plc:alice")));
      assertThat(alice).containsExactly(30, 2);
    }
  }
}
