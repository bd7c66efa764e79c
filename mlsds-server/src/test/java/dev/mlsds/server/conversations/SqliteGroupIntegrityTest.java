package dev.mlsds.server.conversations;

import dev.mlsds.server.testing.TestDatabases;

class SqliteGroupIntegrityTest extends GroupIntegrityContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
