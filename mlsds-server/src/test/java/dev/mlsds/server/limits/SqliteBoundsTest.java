package dev.mlsds.server.limits;

import dev.mlsds.server.testing.TestDatabases;

class SqliteBoundsTest extends BoundsContract {
  @Override
  String newDatabaseUrl() {
    return TestDatabases.sqlite();
  }
}
