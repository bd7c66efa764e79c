package dev.mlsds.server.storage;

import dev.mlsds.server.testing.TestDatabases;

class PostgresUpgradeIT extends UpgradeContract {
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
