package dev.mlsds.server.keypackages;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcInput;
import java.util.List;
import java.util.Locale;

/** {@code blue.catbird.mls.publishKeyPackages}: a batch upload, each item accepted or rejected on its own. */
public final class PublishKeyPackages {
  public static final String NSID = "blue.catbird.mls.publishKeyPackages";

  private PublishKeyPackages() {}

  /** One upload; {@code lastResort} on upload marks it last-resort even without the 0x000A extension. */
  public record Item(byte[] keyPackage, boolean lastResort) {}

  public record Input(List<Item> keyPackages) {
    /**
     * The JSON shape must be right for the whole batch (else 400 {@code InvalidRequest}, nothing stored);
     * what the bytes contain is judged per item by the service.
     */
    public static Input parse(XrpcInput in, int maxItems) {
      return new Input(in.list("keyPackages", 1, maxItems, PublishKeyPackages::item));
    }
  }

  private static Item item(JsonNode n) {
    if (!n.isObject()) {
      throw XrpcException.invalidRequest("items of 'keyPackages' must be objects {keyPackage, lastResort?}");
    }
    XrpcInput item = new XrpcInput(n);
    return new Item(item.bytes("keyPackage"), item.optBool("lastResort").orElse(false));
  }

  public enum Status {
    PUBLISHED, DUPLICATE, REJECTED;

    @JsonValue
    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * The outcome of item {@code index}. {@code error} ({@code InvalidKeyPackage} or
   * {@code KeyPackageLimitReached}) and {@code message} only when rejected; the KeyPackage's facts when
   * they could be read.
   */
  public record Result(int index, Status status, String keyPackageRef, String deviceId, String cipherSuite,
      String error, String message) {}

  /** Available one-time KeyPackages after the upload, for each device and suite the batch touched. */
  public record Available(String deviceId, String cipherSuite, int count) {}

  public record Output(List<Result> results, List<Available> available) {}
}
