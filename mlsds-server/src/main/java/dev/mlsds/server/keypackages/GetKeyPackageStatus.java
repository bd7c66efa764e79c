package dev.mlsds.server.keypackages;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.xrpc.XrpcParams;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** {@code blue.catbird.mls.getKeyPackageStatus}: the caller's own inventory, per device and suite. */
public final class GetKeyPackageStatus {
  public static final String NSID = "blue.catbird.mls.getKeyPackageStatus";

  private GetKeyPackageStatus() {}

  public record Params(Optional<CipherSuite> cipherSuite) {
    public static Params parse(XrpcParams p) {
      return new Params(p.opt("cipherSuite").map(s -> GetKeyPackages.suiteParam(p)));
    }
  }

  public record Device(String deviceId, String cipherSuite, int available, int reserved, boolean lastResort,
      int consumedLast24h, Instant oldestExpiresAt) {}

  /** {@code needsReplenish}: no device at all, or one with fewer than {@code threshold} available. */
  public record Output(List<Device> devices, int threshold, boolean needsReplenish) {}
}
