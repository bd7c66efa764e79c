package dev.mlsds.server.conversations;

import dev.mlsds.server.testing.TestDatabases;

class PostgresSeedCompatIT extends SeedCompatContract {
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
