package dev.mlsds.server.keypackages;

import dev.mlsds.server.testing.TestDatabases;

class SqliteKeyPackageStoreTest extends KeyPackageStoreContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
