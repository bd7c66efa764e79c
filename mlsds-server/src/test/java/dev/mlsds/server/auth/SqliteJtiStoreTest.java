package dev.mlsds.server.auth;

import dev.mlsds.server.testing.TestDatabases;

class SqliteJtiStoreTest extends JtiStoreContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
