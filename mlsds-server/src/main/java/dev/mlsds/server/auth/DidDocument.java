package dev.mlsds.server.auth;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Reads the {@code #atproto} signing key out of a DID document (atproto identity spec).
 *
 * <p>The document must name the DID it was fetched for in {@code id} (a did:web host cannot vouch for
 * another identity). The key is the verification method whose {@code id} is {@code #atproto} or
 * {@code <did>#atproto}: a {@code Multikey} ({@code publicKeyMultibase} with multicodec prefix), one of
 * the two legacy types atproto still resolves ({@code EcdsaSecp256k1VerificationKey2019},
 * {@code EcdsaSecp256r1VerificationKey2019}: the bare point in base58btc), or any method carrying a
 * {@code publicKeyJwk}. Every other method is ignored; no {@code #atproto} key is an error.
 */
final class DidDocument {
  private DidDocument() {}

  /** The key, or an {@link IllegalArgumentException} whose message says what is wrong with the document. */
  static AtprotoKey atprotoKey(Did did, JsonNode doc) {
    if (doc == null || !doc.isObject()) {
      throw new IllegalArgumentException("DID document is not a JSON object");
    }
    if (!did.value().equals(doc.path("id").asText(null))) {
      throw new IllegalArgumentException("DID document id does not match " + did);
    }
    for (JsonNode vm : doc.path("verificationMethod")) {
      String id = vm.path("id").asText("");
      if (!id.equals("#atproto") && !id.equals(did.value() + "#atproto")) {
        continue;
      }
      if (vm.has("publicKeyJwk")) {
        return AtprotoKey.fromJwk(vm.get("publicKeyJwk"));
      }
      String multibase = vm.path("publicKeyMultibase").asText(null);
      if (multibase == null) {
        throw new IllegalArgumentException("#atproto verification method has no public key");
      }
      return switch (vm.path("type").asText("")) {
        case "Multikey" -> AtprotoKey.fromMultikey(multibase);
        case "EcdsaSecp256k1VerificationKey2019" -> AtprotoKey.fromPoint(KeyType.K256, Multibase.decode(multibase));
        case "EcdsaSecp256r1VerificationKey2019" -> AtprotoKey.fromPoint(KeyType.P256, Multibase.decode(multibase));
        default -> throw new IllegalArgumentException("#atproto verification method has an unsupported type");
      };
    }
    throw new IllegalArgumentException("DID document has no #atproto verification method");
  }
}
