package dev.mlsds.server.conversations;

import dev.mlsds.server.testing.TestDatabases;

class SqliteConvoLifecycleTest extends ConvoLifecycleContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
