package dev.mlsds.server.xrpc;

import dev.mlsds.server.testing.TestDatabases;

class SqliteIdempotencyStoreTest extends IdempotencyStoreContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
