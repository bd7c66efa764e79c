package dev.mlsds.server.keypackages;

import dev.mlsds.server.xrpc.XrpcInput;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * {@code blue.catbird.mls.syncKeyPackages}: the device lists the KeyPackageRefs whose private keys it still
 * holds; its other non-consumed KeyPackages are deleted (the server half of the NoMatchingKeyPackage fix).
 */
public final class SyncKeyPackages {
  public static final String NSID = "blue.catbird.mls.syncKeyPackages";
  public static final int MAX_REFS = 1000;

  private SyncKeyPackages() {}

  /** {@code keyPackageRefs} is required (an empty list means "I hold none"), so a client cannot omit it by accident. */
  public record Input(DeviceId deviceId, Set<String> keyPackageRefs) {
    public static Input parse(XrpcInput in) {
      DeviceId device = DeviceId.parse(in.string("deviceId"), "deviceId");
      Set<String> refs = new LinkedHashSet<>(in.list("keyPackageRefs", 0, MAX_REFS,
          n -> KeyPackageRef.parse(XrpcInput.textElement(n, "keyPackageRefs"), "keyPackageRefs").hex()));
      return new Input(device, Set.copyOf(refs));
    }
  }

  public record Output(int kept, int deleted, int welcomesInvalidated) {}
}
