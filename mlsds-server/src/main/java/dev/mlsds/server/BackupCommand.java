package dev.mlsds.server;

import dev.mlsds.server.ops.Backup;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mlsds backup FILE}: an online, consistent copy of the embedded SQLite database, safe while the
 * server runs ({@link Backup}). PostgreSQL deployments use {@code pg_dump}; see docs/operations.md.
 */
@Command(name = "backup", mixinStandardHelpOptions = true,
    description = "Copy the SQLite database to FILE (online: safe while the server runs; FILE must not exist).")
final class BackupCommand implements Callable<Integer> {
  @Mixin Main.Settings settings;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "the backup file to create")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Config config = settings.toConfigOrReport("");
    if (config == null) {
      return 2;
    }
    try {
      Backup.Result r = Backup.sqlite(config.effectiveDatabaseUrl(), file);
      out.println("backed up to " + r.target() + " (" + r.bytes() + " bytes, schema version " + r.schemaVersion() + ")");
      return 0;
    } catch (IllegalArgumentException e) {
      err.println("mlsds backup: " + e.getMessage());
      return 2;
    } catch (IllegalStateException e) {
      err.println("mlsds backup: " + e.getMessage());
      return 1;
    }
  }
}
