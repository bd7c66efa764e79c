package dev.mlsds.server.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.HMacDSAKCalculator;
import org.bouncycastle.util.BigIntegers;

/**
 * A key pair that signs real AT Protocol service tokens: the identity behind {@code mlsds token}, and how
 * every test in the project (HTTP tests, end-to-end clients) authenticates as a user.
 *
 * <p>By default the identity is the key's own {@code did:key}, which a server accepts only with
 * {@code MLSDS_ALLOW_DID_KEY=true} (the dev profile). {@link #as(Did)} gives the same key under another
 * DID, for tests that publish the key in a did:plc or did:web document. Tokens are ES256K or ES256 with
 * RFC 6979 deterministic, low-S signatures, {@code iat} now, a {@value #TOKEN_LIFETIME_SECONDS} s
 * lifetime and a fresh random {@code jti}. The identity file holds the private key in clear (owner-only
 * permissions): this is a development tool, not a wallet.
 */
public final class DevIdentity {
  public static final long TOKEN_LIFETIME_SECONDS = 60;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();

  private final KeyType type;
  private final BigInteger privateKey;
  private final AtprotoKey publicKey;
  private final Did did;

  private DevIdentity(KeyType type, BigInteger privateKey, Did did) {
    this.type = type;
    this.privateKey = privateKey;
    this.publicKey = new AtprotoKey(type,
        new ECPublicKeyParameters(type.domain().getG().multiply(privateKey).normalize(), type.domain()));
    this.did = did != null ? did : publicKey.didKey();
    if (this.did.method().equals("key") && !this.did.equals(publicKey.didKey())) {
      throw new IllegalArgumentException("did:key does not match the private key");
    }
  }

  /** A fresh random key whose identity is its own {@code did:key}. */
  public static DevIdentity generate(KeyType type) {
    BigInteger n = type.order();
    BigInteger d;
    do {
      d = new BigInteger(n.bitLength(), RANDOM);
    } while (d.signum() == 0 || d.compareTo(n) >= 0);
    return new DevIdentity(type, d, null);
  }

  /** Reads an identity file written by {@link #save}. */
  public static DevIdentity load(Path file) {
    try {
      JsonNode json = Json.MAPPER.readTree(Files.readString(file));
      KeyType type = KeyType.valueOf(json.path("keyType").asText());
      BigInteger d = new BigInteger(1, HexFormat.of().parseHex(json.path("privateKey").asText()));
      String did = json.path("did").asText(null);
      return new DevIdentity(type, d, did == null ? null : new Did(did));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read identity file " + file, e);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not an mlsds identity file: " + file + " (" + e.getMessage() + ")", e);
    }
  }

  /** The identity in {@code file}, or a new {@code did:key} identity of {@code typeIfNew} saved there. */
  public static DevIdentity loadOrCreate(Path file, KeyType typeIfNew) {
    if (Files.exists(file)) {
      return load(file);
    }
    DevIdentity created = generate(typeIfNew);
    created.save(file);
    return created;
  }

  /** Writes the identity as JSON readable by the owner only (where the file system supports it). */
  public void save(Path file) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("did", did.value());
    json.put("keyType", type.name());
    json.put("privateKey", HexFormat.of().formatHex(BigIntegers.asUnsignedByteArray(32, privateKey)));
    try {
      Path parent = file.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      Path tmp = Files.createTempFile(parent, ".identity", ".tmp");
      if (Files.getFileStore(tmp).supportsFileAttributeView("posix")) {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      }
      Files.writeString(tmp, Json.write(json) + "\n");
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write identity file " + file, e);
    }
  }

  /** The same key pair acting as {@code did} (whose DID document must list this key as {@code #atproto}). */
  public DevIdentity as(Did did) {
    return new DevIdentity(type, privateKey, did);
  }

  public Did did() {
    return did;
  }

  public KeyType keyType() {
    return type;
  }

  public AtprotoKey publicKey() {
    return publicKey;
  }

  /** A valid token for calling {@code lxm} on the service {@code aud}, issued now. */
  public String token(String aud, String lxm) {
    return token(aud, lxm, Instant.now());
  }

  /** A valid token issued at {@code now} (for servers on a test clock). */
  public String token(String aud, String lxm, Instant now) {
    return sign(claims(aud, lxm, now));
  }

  /** The claims of {@link #token}, in a mutable map so tests can break one rule at a time. */
  public Map<String, Object> claims(String aud, String lxm, Instant now) {
    Map<String, Object> claims = new LinkedHashMap<>();
    claims.put("iss", did.value());
    claims.put("aud", aud);
    claims.put("lxm", lxm);
    claims.put("iat", now.getEpochSecond());
    claims.put("exp", now.getEpochSecond() + TOKEN_LIFETIME_SECONDS);
    byte[] jti = new byte[16];
    RANDOM.nextBytes(jti);
    claims.put("jti", HexFormat.of().formatHex(jti));
    return claims;
  }

  /** Signs {@code claims} under the standard header ({@code typ: JWT}, this key's {@code alg}). */
  public String sign(Map<String, ?> claims) {
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("typ", "JWT");
    header.put("alg", type.jwtAlg());
    return sign(header, claims);
  }

  /** Signs any header and claims with this key, as given (tests use it to forge bad tokens). */
  public String sign(Map<String, ?> header, Map<String, ?> claims) {
    String signingInput = B64URL.encodeToString(Json.write(header).getBytes(StandardCharsets.UTF_8)) + "."
        + B64URL.encodeToString(Json.write(claims).getBytes(StandardCharsets.UTF_8));
    return signingInput + "." + B64URL.encodeToString(signRaw(signingInput.getBytes(StandardCharsets.US_ASCII)));
  }

  /** A raw 64-byte low-S {@code r‖s} ECDSA signature over SHA-256 of {@code message}. */
  public byte[] signRaw(byte[] message) {
    ECDSASigner signer = new ECDSASigner(new HMacDSAKCalculator(new SHA256Digest()));
    signer.init(true, new ECPrivateKeyParameters(privateKey, type.domain()));
    BigInteger[] rs = signer.generateSignature(AtprotoKey.sha256(message));
    BigInteger s = rs[1];
    if (s.compareTo(type.order().shiftRight(1)) > 0) {
      s = type.order().subtract(s);
    }
    byte[] out = new byte[64];
    System.arraycopy(BigIntegers.asUnsignedByteArray(32, rs[0]), 0, out, 0, 32);
    System.arraycopy(BigIntegers.asUnsignedByteArray(32, s), 0, out, 32, 32);
    return out;
  }

  /** Not the key: the DID, so an identity never leaks its secret into a log line. */
  @Override
  public String toString() {
    return "DevIdentity[" + did + "]";
  }
}
