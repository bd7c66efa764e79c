package dev.mlsds.server.keypackages;

import dev.mlsds.server.testing.TestDatabases;

class SqliteKeyPackageSeedCase2Test extends KeyPackageSeedCase2Contract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
