package dev.mlsds.server.realtime;

import dev.mlsds.server.testing.TestDatabases;

/** The stream contract on PostgreSQL: one node, wakes through LISTEN/NOTIFY. */
class PostgresRealtimeIT extends RealtimeStreamContract {
  private TestDatabases.Postgres pg;

  @Override
  String newDatabaseUrl() {
    pg = TestDatabases.postgres();
    return pg.url();
  }

  @Override
  void dropDatabase() {
    pg.close();
  }
}
