package dev.mlsds.server.xrpc;

import dev.mlsds.server.testing.TestDatabases;

class PostgresIdempotencyStoreIT extends IdempotencyStoreContract {
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
