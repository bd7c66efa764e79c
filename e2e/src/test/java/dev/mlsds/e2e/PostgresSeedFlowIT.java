package dev.mlsds.e2e;

/** The seed-era client emulator's whole flow on a node over a fresh PostgreSQL database (dropped afterwards). */
class PostgresSeedFlowIT extends SeedFlowScenarios {
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
