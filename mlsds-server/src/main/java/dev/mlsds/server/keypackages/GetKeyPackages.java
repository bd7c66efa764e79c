package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcParams;
import java.util.LinkedHashSet;
import java.util.List;

/** {@code blue.catbird.mls.getKeyPackages}: one KeyPackage per device of each DID, reserved for the caller. */
public final class GetKeyPackages {
  public static final String NSID = "blue.catbird.mls.getKeyPackages";
  public static final CipherSuite DEFAULT_SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

  private GetKeyPackages() {}

  /** Distinct DIDs in request order (a repeated DID is served once), and the suite (name or id). */
  public record Params(List<Did> dids, CipherSuite cipherSuite) {
    public static Params parse(XrpcParams p, int maxDids) {
      LinkedHashSet<Did> dids = new LinkedHashSet<>();
      for (String s : p.list("dids", 1, maxDids)) {
        dids.add(Did.parse(s, "dids"));
      }
      return new Params(List.copyOf(dids), suiteParam(p));
    }
  }

  static CipherSuite suiteParam(XrpcParams p) {
    return p.opt("cipherSuite").map(s -> CipherSuite.parse(s).orElseThrow(() -> new XrpcException(
        XrpcError.InvalidCipherSuite, "unknown cipherSuite '" + PublishKeyPackage.abbreviate(s) + "'")))
        .orElse(DEFAULT_SUITE);
  }

  /**
   * {@code keyPackage} is the MLSMessage-framed KeyPackage as base64url without padding: a string, as the
   * 2025 lexicon types it ({@code defs#keyPackageRef}) and its clients decode it.
   */
  public record Item(String did, String deviceId, String keyPackage, String keyPackageRef, String cipherSuite,
      boolean lastResort) {}

  public record Output(List<Item> keyPackages, List<String> missing) {}
}
