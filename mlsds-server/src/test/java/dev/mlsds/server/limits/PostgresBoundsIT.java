package dev.mlsds.server.limits;

import dev.mlsds.server.testing.TestDatabases;

class PostgresBoundsIT extends BoundsContract {
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
