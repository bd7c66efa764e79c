package dev.mlsds.server.limits;

import dev.mlsds.server.testing.TestDatabases;

class SqliteStorageBoundsTest extends StorageBoundsContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
