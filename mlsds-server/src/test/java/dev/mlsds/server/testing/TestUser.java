package dev.mlsds.server.testing;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.auth.KeyType;
import dev.mlsds.server.xrpc.Json;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;

/**
 * A did:key user talking to a node with real service tokens (a fresh token, with its own jti, per call),
 * and the devices it publishes KeyPackages from (a device is its MLS signature key).
 */
public final class TestUser {
  public static final String NS = "blue.catbird.mls.";
  private final DevIdentity identity;
  private final Http http;
  private final String audience;

  public TestUser(Http http, String audience) {
    this(DevIdentity.generate(KeyType.P256), http, audience);
  }

  private TestUser(DevIdentity identity, Http http, String audience) {
    this.identity = identity;
    this.http = http;
    this.audience = audience;
  }

  /** The same identity talking to another node (same audience). */
  public TestUser on(Http other) {
    return new TestUser(identity, other, audience);
  }

  public static TestUser on(dev.mlsds.server.Server server) {
    return new TestUser(new Http(server.port()), server.config().serviceDid());
  }

  public Did did() {
    return identity.did();
  }

  public String token(String method) {
    return identity.token(audience, NS + method);
  }

  public Http.Response post(String method, Map<String, ?> body) {
    return http.post("/xrpc/" + NS + method, token(method), Json.write(body));
  }

  /** GET with query parameters given as alternating name, value pairs. */
  public Http.Response get(String method, String... params) {
    StringBuilder q = new StringBuilder();
    for (int i = 0; i + 1 < params.length; i += 2) {
      q.append(q.isEmpty() ? '?' : '&').append(params[i]).append('=')
          .append(URLEncoder.encode(params[i + 1], StandardCharsets.UTF_8));
    }
    return http.get("/xrpc/" + NS + method + q, token(method));
  }

  /** A new device: an Ed25519 signature key for suite 1. */
  public Device device() {
    return new Device(SigningKey.generate(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519));
  }

  /** One device of this user. */
  public final class Device {
    public final SigningKey key;

    public Device(SigningKey key) {
      this.key = key;
    }

    /** A fresh, valid, MLSMessage-framed suite-1 KeyPackage (lifetime now-60 s .. now+30 days). */
    public byte[] keyPackage() {
      return keyPackage(false);
    }

    public byte[] keyPackage(boolean lastResort) {
      Instant now = Instant.now();
      return TestKeyPackages.builder(CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, did().value())
          .signingKey(key).lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(30))).lastResort(lastResort)
          .framed(true).build();
    }

    public String deviceId() {
      return KeyPackage.decode(keyPackage()).deviceId();
    }
  }

  public static String ref(byte[] keyPackage) {
    return HexFormat.of().formatHex(KeyPackage.decode(keyPackage).ref());
  }

  public static Map<String, String> bytes(byte[] b) {
    return Map.of("$bytes", Base64.getEncoder().withoutPadding().encodeToString(b));
  }
}
