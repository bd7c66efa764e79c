package dev.mlsds.server.conversations;

import dev.mlsds.server.testing.TestDatabases;

class SqliteSeedCompatTest extends SeedCompatContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
