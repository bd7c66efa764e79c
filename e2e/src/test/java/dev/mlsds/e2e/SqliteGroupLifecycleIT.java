package dev.mlsds.e2e;

/** The group lifecycle end to end on a node over a fresh SQLite file. */
class SqliteGroupLifecycleIT extends GroupLifecycleScenarios {
  @Override
  String openDatabase() {
    return Databases.sqlite();
  }

  @Override
  void closeDatabase() {}
}
