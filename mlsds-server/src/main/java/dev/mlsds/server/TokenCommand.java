package dev.mlsds.server;

import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mlsds token NSID}: prints a service token for calling NSID on the configured service, signed by
 * a local {@code did:key} identity that is created on first use and reused afterwards — so one curl line
 * can try the API against a dev server. See docs/auth.md.
 */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = "Dev helper: print a service token for NSID from a local did:key identity (created on first use).")
final class TokenCommand implements Callable<Integer> {
  @Mixin Main.Settings settings;
  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "NSID", description = "the method the token is for (lxm)")
  String nsid;

  @Option(names = "--did", description = "print the identity's DID instead of a token")
  boolean printDid;

  @Option(names = "--identity", paramLabel = "FILE",
      description = "identity file (default: <data dir>/dev-identity.json)")
  Path identityFile;

  @Option(names = "--key-type", defaultValue = "K256",
      description = "curve of a newly created identity: K256 (secp256k1, ES256K) or P256 (ES256); default ${DEFAULT-VALUE}")
  KeyType keyType;

  @Option(names = "--aud", description = "audience (default: the configured service DID, MLSDS_SERVICE_DID)")
  String audience;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Config config = settings.toConfigOrReport("");
    if (config == null) {
      return 2;
    }
    if (!printDid && (nsid == null || nsid.isBlank())) {
      err.println("mlsds token: give the NSID to call, e.g. mlsds token blue.catbird.mls.getConvos");
      return 2;
    }
    Path file = identityFile != null ? identityFile : config.dataDir().resolve("dev-identity.json");
    DevIdentity identity;
    try {
      identity = DevIdentity.loadOrCreate(file, keyType);
    } catch (RuntimeException e) {
      err.println("mlsds token: " + e.getMessage());
      return 2;
    }
    if (!config.allowDidKey()) {
      err.println("mlsds token: note: this configuration refuses did:key issuers (MLSDS_ALLOW_DID_KEY=false)");
    }
    out.println(printDid ? identity.did().value()
        : identity.token(audience != null ? audience : config.serviceDid(), nsid));
    out.flush();
    return 0;
  }
}
