package dev.mlsds.server.auth;

import dev.mlsds.server.testing.TestDatabases;

class PostgresJtiStoreIT extends JtiStoreContract {
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
