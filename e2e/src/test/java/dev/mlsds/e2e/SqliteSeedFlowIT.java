package dev.mlsds.e2e;

/** The seed-era client emulator's whole flow on a node over a fresh SQLite file. */
class SqliteSeedFlowIT extends SeedFlowScenarios {
  @Override
  String openDatabase() {
    return Databases.sqlite();
  }

  @Override
  void closeDatabase() {}
}
