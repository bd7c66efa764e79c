package dev.mlsds.e2e;

/** The group lifecycle end to end on a node over a fresh PostgreSQL database (dropped afterwards). */
class PostgresGroupLifecycleIT extends GroupLifecycleScenarios {
  private Databases.Postgres db;

  @Override
  String openDatabase() {
    db = Databases.postgres();
    return db.url();
  }

  @Override
  void closeDatabase() {
    if (db != null) {
      db.close();
    }
  }
}
