package dev.mlsds.server;

import dev.mlsds.codec.Inspector;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mlsds inspect [--at TIME] [--lines] [FILE|-]}: decodes MLS objects (hex or base64) with the
 * server's own strict codec and prints one JSON object each; the output fields are documented in
 * docs/inspect.md. Exit status 0 when every input parsed (and, for KeyPackages, the JSON says whether it
 * is valid), 1 when any input was malformed, 2 on a usage error.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Decode an MLS object (hex or base64; bare KeyPackages too) and print it as JSON.")
final class InspectCommand implements Callable<Integer> {
  @Option(names = "--at", description = "validate KeyPackage lifetimes at this RFC 3339 time (default: now)")
  String at;

  @Option(names = "--lines", description = "one object per input line; one JSON object per output line")
  boolean lines;

  @Parameters(arity = "0..1", paramLabel = "FILE", description = "input file, or - for standard input (default)")
  String file;

  @Override
  public Integer call() throws IOException {
    Instant when;
    try {
      when = at == null ? Instant.now() : Instant.parse(at);
    } catch (DateTimeParseException e) {
      System.err.println("mlsds inspect: --at must be an RFC 3339 time such as 2026-01-01T00:00:00Z");
      return 2;
    }
    try (InputStream in = file == null || file.equals("-") ? System.in : Files.newInputStream(Path.of(file))) {
      return Inspector.run(in, System.out, when, lines);
    }
  }
}
