package dev.mlsds.server.ops;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The service's own {@code did:web} document, served at {@code /.well-known/did.json}, with the
 * {@code #atproto_mls} service entry that PDSes and clients look up to address tokens to this service.
 */
public final class ServiceDidDocument {
  private ServiceDidDocument() {}

  /** The document for a {@code did:web} service DID, or empty for other methods (nothing to serve). */
  public static Optional<Map<String, Object>> forDid(String serviceDid) {
    if (!serviceDid.startsWith("did:web:")) {
      return Optional.empty();
    }
    String[] parts = serviceDid.substring("did:web:".length()).split(":");
    StringBuilder url = new StringBuilder("https://").append(URLDecoder.decode(parts[0], StandardCharsets.UTF_8));
    for (int i = 1; i < parts.length; i++) {
      url.append('/').append(URLDecoder.decode(parts[i], StandardCharsets.UTF_8));
    }
    return Optional.of(Map.of(
        "@context", List.of("https://www.w3.org/ns/did/v1"),
        "id", serviceDid,
        "service", List.of(Map.of(
            "id", "#atproto_mls",
            "type", "AtprotoMlsService",
            "serviceEndpoint", url.toString()))));
  }
}
