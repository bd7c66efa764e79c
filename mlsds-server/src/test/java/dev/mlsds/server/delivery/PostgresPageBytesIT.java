package dev.mlsds.server.delivery;

import dev.mlsds.server.testing.TestDatabases;

class PostgresPageBytesIT extends PageBytesContract {
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
