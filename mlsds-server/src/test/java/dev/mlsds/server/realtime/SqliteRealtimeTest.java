package dev.mlsds.server.realtime;

import dev.mlsds.server.testing.TestDatabases;

/** The stream contract on SQLite: one node, the in-process bus. */
class SqliteRealtimeTest extends RealtimeStreamContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
