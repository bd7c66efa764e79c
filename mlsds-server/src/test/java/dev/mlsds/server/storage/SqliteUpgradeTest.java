package dev.mlsds.server.storage;

import dev.mlsds.server.testing.TestDatabases;

class SqliteUpgradeTest extends UpgradeContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
