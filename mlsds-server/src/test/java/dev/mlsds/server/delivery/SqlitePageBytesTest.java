package dev.mlsds.server.delivery;

import dev.mlsds.server.testing.TestDatabases;

class SqlitePageBytesTest extends PageBytesContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
