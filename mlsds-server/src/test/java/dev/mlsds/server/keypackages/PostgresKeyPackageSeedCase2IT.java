package dev.mlsds.server.keypackages;

import dev.mlsds.server.testing.TestDatabases;

class PostgresKeyPackageSeedCase2IT extends KeyPackageSeedCase2Contract {
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
