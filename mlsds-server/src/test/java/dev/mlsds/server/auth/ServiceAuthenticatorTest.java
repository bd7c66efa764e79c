package dev.mlsds.server.auth;

import dev.mlsds.server.testing.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.Config;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.util.BigIntegers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every rule of docs/api.md §2, one test each, against real keys, real signatures, a PLC directory and a did:web
 * host on loopback, and the jti store on SQLite. Each negative token is valid in every way but the one
 * its test names, and the assertion names the rule (error name and message), so a test fails if its rule
 * is removed.
 */
class ServiceAuthenticatorTest {
  static final String NSID = "blue.catbird.mls.getConvos";
  static final String AUD = Config.DEFAULT_SERVICE_DID;
  static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

  static FakeDirectory directory;
  static Database db;
  final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T12:00:00Z"));
  ServiceAuthenticator auth;

  @BeforeAll
  static void startDirectory() {
    directory = new FakeDirectory();
    db = Database.open(TestDatabases.sqlite(), null);
    db.migrate();
  }

  @AfterAll
  static void stopDirectory() {
    directory.close();
    db.close();
  }

  @BeforeEach
  void newAuthenticator() {
    auth = authenticator(config(true));
  }

  Config config(boolean allowDidKey) {
    Config c = TestServers.config("jdbc:sqlite::memory:");
    return new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(), allowDidKey,
        directory.url(), List.of("localhost"), null, c.limits());
  }

  ServiceAuthenticator authenticator(Config config) {
    return authenticator(config, DidResolver.DEFAULT_TIMEOUT);
  }

  ServiceAuthenticator authenticator(Config config, Duration resolveTimeout) {
    // no minimum refresh interval, so a rotation test needs no sleep
    DidResolver resolver = new DidResolver(config, DidResolver.DEFAULT_TTL, resolveTimeout, Duration.ZERO);
    return new ServiceAuthenticator(config, clock, resolver, new JtiStore(db, clock));
  }

  /** A did:plc user whose document at the directory lists its key. */
  DevIdentity plcUser(KeyType type) {
    DevIdentity id = DevIdentity.generate(type).as(FakeDirectory.randomPlcDid());
    directory.publish(id.did(), id.publicKey());
    return id;
  }

  Map<String, Object> claims(DevIdentity id) {
    return id.claims(AUD, NSID, clock.instant());
  }

  Did authenticate(String token) {
    return auth.authenticate("Bearer " + token, NSID);
  }

  void assertRefused(String token, XrpcError error, String messagePart) {
    assertThatThrownBy(() -> authenticate(token))
        .isInstanceOfSatisfying(XrpcException.class, e -> {
          assertThat(e.error()).isEqualTo(error);
          assertThat(e.getMessage()).contains(messagePart);
        });
  }

  static String encode(Map<String, ?> json) {
    return B64.encodeToString(Json.write(json).getBytes(StandardCharsets.UTF_8));
  }

  // ---- accepted tokens

  @ParameterizedTest
  @EnumSource(KeyType.class)
  void acceptsATokenFromADidPlcIssuer(KeyType type) {
    DevIdentity alice = plcUser(type);
    assertThat(authenticate(alice.sign(claims(alice)))).isEqualTo(alice.did());
  }

  @Test
  void acceptsDidWebIssuersHostAndPathForms() {
    for (Did did : List.of(directory.webDid(), directory.webDid("users", "alice"))) {
      DevIdentity id = DevIdentity.generate(KeyType.P256).as(did);
      directory.publish(did, id.publicKey());
      assertThat(authenticate(id.sign(claims(id)))).isEqualTo(did);
    }
  }

  @Test
  void acceptsDidKeyIssuersOnlyWhenEnabled() {
    DevIdentity dev = DevIdentity.generate(KeyType.K256);
    assertThat(authenticate(dev.token(AUD, NSID, clock.instant()))).isEqualTo(dev.did());

    auth = authenticator(config(false));
    assertRefused(dev.token(AUD, NSID, clock.instant()), XrpcError.InvalidToken, "did:key issuers are not accepted");
  }

  @Test
  void acceptsAKeyPublishedAsJwk() {
    DevIdentity id = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    var q = id.publicKey().params().getQ();
    Map<String, Object> jwk = Map.of("kty", "EC", "crv", "secp256k1",
        "x", B64.encodeToString(q.getAffineXCoord().getEncoded()), "y", B64.encodeToString(q.getAffineYCoord().getEncoded()));
    directory.respond(directory.pathOf(id.did()), 200, Json.write(Map.of("id", id.did().value(),
        "verificationMethod", List.of(Map.of("id", "#atproto", "type", "JsonWebKey2020", "publicKeyJwk", jwk)))));
    assertThat(authenticate(id.sign(claims(id)))).isEqualTo(id.did());
  }

  @Test
  void cachesDidDocuments() {
    DevIdentity alice = plcUser(KeyType.K256);
    int before = directory.requests();
    for (int i = 0; i < 5; i++) {
      authenticate(alice.sign(claims(alice)));
    }
    assertThat(directory.requests() - before).isEqualTo(1);
  }

  // ---- header

  @Test
  void noHeaderIsAuthenticationRequired() {
    for (String header : new String[] {null, "", "Basic dXNlcjpwYXNz", "Bearer "}) {
      assertThatThrownBy(() -> auth.authenticate(header, NSID))
          .isInstanceOfSatisfying(XrpcException.class, e -> assertThat(e.error()).isEqualTo(XrpcError.AuthenticationRequired));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"garbage", "a.b", "a.b.c.d", "!!!.###.$$$", "e30.e30.", "W10.e30.AAAA", "e30.W10.AAAA",
      "eyJhbGciOiJFUzI1NksiLCJhbGciOiJFUzI1NksifQ.e30.AAAA"})
  void malformedTokensAreInvalidTokenNeverA500(String token) {
    assertRefused(token, XrpcError.InvalidToken, "");
  }

  // ---- algorithm

  @Test
  void algNoneIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    assertRefused(encode(Map.of("alg", "none", "typ", "JWT")) + "." + encode(claims(alice)) + ".",
        XrpcError.InvalidToken, "unsupported alg");
  }

  @Test
  void hs256KeyedWithThePublicKeyIsRefused() throws Exception {
    DevIdentity alice = plcUser(KeyType.K256);
    String signingInput = encode(Map.of("alg", "HS256", "typ", "JWT")) + "." + encode(claims(alice));
    for (byte[] secret : List.of(alice.publicKey().params().getQ().getEncoded(true),
        alice.publicKey().multikey().getBytes(StandardCharsets.US_ASCII))) {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      String token = signingInput + "." + B64.encodeToString(mac.doFinal(signingInput.getBytes(StandardCharsets.US_ASCII)));
      assertRefused(token, XrpcError.InvalidToken, "unsupported alg");
    }
  }

  @Test
  void algMustMatchTheIssuersKeyType() {
    DevIdentity alice = plcUser(KeyType.K256);
    // a P-256 key signs a token naming ES256 for an issuer whose published key is secp256k1
    DevIdentity impostor = DevIdentity.generate(KeyType.P256).as(alice.did());
    assertRefused(impostor.sign(claims(alice)), XrpcError.InvalidToken, "does not match the issuer's key type");
  }

  @Test
  void critHeaderIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    assertRefused(alice.sign(Map.of("alg", "ES256K", "crit", List.of("b64"), "b64", false), claims(alice)),
        XrpcError.InvalidToken, "critical");
  }

  // ---- signature

  @Test
  void highSSignatureIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    String token = alice.sign(claims(alice));
    int dot = token.lastIndexOf('.');
    byte[] sig = Base64.getUrlDecoder().decode(token.substring(dot + 1));
    BigInteger s = new BigInteger(1, sig, 32, 32);
    System.arraycopy(BigIntegers.asUnsignedByteArray(32, KeyType.K256.order().subtract(s)), 0, sig, 32, 32);
    // (r, n - s) is a mathematically valid signature of the same token: only the low-S rule refuses it
    assertRefused(token.substring(0, dot + 1) + B64.encodeToString(sig), XrpcError.InvalidToken, "low-S");
    assertThat(authenticate(token)).isEqualTo(alice.did());
  }

  @Test
  void signatureByAnotherKeyOrOverOtherClaimsIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    DevIdentity mallory = DevIdentity.generate(KeyType.K256).as(alice.did());
    assertRefused(mallory.sign(claims(alice)), XrpcError.InvalidToken, "bad signature");

    String token = alice.sign(claims(alice));
    String[] parts = token.split("\\.");
    Map<String, Object> forged = new LinkedHashMap<>(claims(alice));
    forged.put("sub", "did:plc:someoneelse");
    assertRefused(parts[0] + "." + encode(forged) + "." + parts[2], XrpcError.InvalidToken, "bad signature");
  }

  @Test
  void derEncodedSignatureIsRefused() {
    DevIdentity alice = plcUser(KeyType.P256);
    String token = alice.sign(claims(alice));
    int dot = token.lastIndexOf('.');
    byte[] raw = Base64.getUrlDecoder().decode(token.substring(dot + 1));
    byte[] der = new byte[72];
    der[0] = 0x30;
    System.arraycopy(raw, 0, der, 4, 64);
    assertRefused(token.substring(0, dot + 1) + B64.encodeToString(der), XrpcError.InvalidToken, "64 bytes");
  }

  // ---- identity

  @Test
  void subNeverSelectsTheIdentity() {
    DevIdentity alice = plcUser(KeyType.K256);
    DevIdentity bob = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    claims.put("sub", bob.did().value());
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());
  }

  @Test
  void issFragmentIsStripped() {
    DevIdentity alice = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    claims.put("iss", alice.did().value() + "#atproto_labeler");
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());
  }

  @Test
  void unknownDidMethodIsRefused() {
    DevIdentity id = DevIdentity.generate(KeyType.K256).as(new Did("did:example:alice"));
    assertRefused(id.sign(claims(id)), XrpcError.InvalidToken, "unsupported DID method");
  }

  @Test
  void didDocumentWithoutAtprotoKeyIsRefused() {
    DevIdentity id = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    directory.respond(directory.pathOf(id.did()), 200, Json.write(Map.of("id", id.did().value(),
        "verificationMethod", List.of(Map.of("id", "#other", "type", "Multikey",
            "publicKeyMultibase", id.publicKey().multikey()))))); // the right key, under the wrong name
    assertRefused(id.sign(claims(id)), XrpcError.InvalidToken, "no #atproto verification method");
  }

  @Test
  void didDocumentForAnotherDidIsRefused() {
    DevIdentity id = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    Did other = FakeDirectory.randomPlcDid();
    directory.respond(directory.pathOf(id.did()), 200, Json.write(FakeDirectory.document(other, id.publicKey())));
    assertRefused(id.sign(claims(id)), XrpcError.InvalidToken, "id does not match");
  }

  @Test
  void keyRotatedAtTheDirectoryIsPickedUpWithoutRestart() {
    DevIdentity before = plcUser(KeyType.K256);
    assertThat(authenticate(before.sign(claims(before)))).isEqualTo(before.did()); // old key now cached
    DevIdentity after = DevIdentity.generate(KeyType.K256).as(before.did());
    directory.publish(after.did(), after.publicKey());

    assertThat(authenticate(after.sign(claims(after)))).isEqualTo(after.did());
    assertRefused(before.sign(claims(before)), XrpcError.InvalidToken, "bad signature");
  }

  @Test
  void keyRotatedToAnotherCurveIsPickedUpToo() {
    DevIdentity before = plcUser(KeyType.P256);
    assertThat(authenticate(before.sign(claims(before)))).isEqualTo(before.did());
    DevIdentity after = DevIdentity.generate(KeyType.K256).as(before.did());
    directory.publish(after.did(), after.publicKey());

    assertThat(authenticate(after.sign(claims(after)))).isEqualTo(after.did());
    assertRefused(before.sign(claims(before)), XrpcError.InvalidToken, "does not match the issuer's key type");
  }

  // ---- claims

  @Test
  void wrongAudienceIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    for (Object aud : new Object[] {"did:web:other.example", AUD + "#bsky_chat", List.of(AUD), null}) {
      Map<String, Object> claims = claims(alice);
      claims.put("aud", aud);
      assertRefused(alice.sign(claims), XrpcError.BadTokenAudience, "aud must be");
    }
  }

  @Test
  void audienceWithAtprotoMlsFragmentIsAccepted() {
    DevIdentity alice = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    claims.put("aud", AUD + "#atproto_mls");
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());
  }

  @Test
  void missingOrWrongLxmIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    claims.remove("lxm");
    assertRefused(alice.sign(claims), XrpcError.BadTokenMethod, "lxm");
    claims.put("lxm", "blue.catbird.mls.sendMessage");
    assertRefused(alice.sign(claims), XrpcError.BadTokenMethod, "lxm");
  }

  @Test
  void expiredTokenIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    String token = alice.sign(claims(alice));
    clock.advance(Duration.ofSeconds(DevIdentity.TOKEN_LIFETIME_SECONDS)); // now == exp
    assertRefused(token, XrpcError.ExpiredToken, "expired");
  }

  @Test
  void iatInTheFutureIsRefusedBeyondTheSkew() {
    DevIdentity alice = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    long now = clock.instant().getEpochSecond();
    claims.put("iat", now + ServiceAuthenticator.SKEW_SECONDS);
    claims.put("exp", now + ServiceAuthenticator.SKEW_SECONDS + 60);
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());

    claims.put("jti", "another");
    claims.put("iat", now + ServiceAuthenticator.SKEW_SECONDS + 1);
    assertRefused(alice.sign(claims), XrpcError.InvalidToken, "iat is in the future");
  }

  @Test
  void lifetimeOverTheMaximumIsRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    long now = clock.instant().getEpochSecond();
    claims.put("exp", now + 300);
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());

    claims.put("jti", "another");
    claims.put("exp", now + 301);
    assertRefused(alice.sign(claims), XrpcError.InvalidToken, "lifetime");

    claims.put("iat", now + 20);
    claims.put("exp", now + 10);
    assertRefused(alice.sign(claims), XrpcError.InvalidToken, "exp must be after iat");
  }

  @Test
  void missingTimesOrJtiAreRefused() {
    DevIdentity alice = plcUser(KeyType.K256);
    for (String claim : List.of("jti", "exp", "iss")) {
      Map<String, Object> claims = claims(alice);
      claims.remove(claim);
      assertRefused(alice.sign(claims), XrpcError.InvalidToken, claim);
    }
    Map<String, Object> claims = claims(alice);
    claims.put("exp", 1.7e9 + 0.5);
    assertRefused(alice.sign(claims), XrpcError.InvalidToken, "whole seconds");
    claims = claims(alice);
    claims.put("iat", "yesterday");
    assertRefused(alice.sign(claims), XrpcError.InvalidToken, "iat");
  }

  @Test
  void tokenWithoutIatIsBoundedByExpFromNow() {
    // Older PDS builds mint service tokens without iat.
    DevIdentity alice = plcUser(KeyType.K256);
    long now = clock.instant().getEpochSecond();
    Map<String, Object> claims = claims(alice);
    claims.remove("iat");
    claims.put("exp", now + 60);
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());

    claims.put("jti", "max");
    claims.put("exp", now + 300);
    assertThat(authenticate(alice.sign(claims))).isEqualTo(alice.did());

    claims.put("jti", "too-long");
    claims.put("exp", now + 301);
    assertRefused(alice.sign(claims), XrpcError.InvalidToken, "without iat");

    claims.put("jti", "expired");
    claims.put("exp", now);
    assertRefused(alice.sign(claims), XrpcError.ExpiredToken, "expired");
  }

  @Test
  void delegatingIssuerNamesTheCallerInSubAndOnlyIt() {
    DevIdentity gateway = plcUser(KeyType.P256);
    DevIdentity alice = plcUser(KeyType.K256);
    DevIdentity mallory = plcUser(KeyType.P256);
    auth = authenticator(config(true).withDelegatingIssuers(List.of(gateway.did().value())));

    Map<String, Object> claims = claims(gateway);
    claims.put("sub", alice.did().value());
    assertThat(authenticate(gateway.sign(claims))).isEqualTo(alice.did());

    claims.put("jti", "no-sub");
    claims.remove("sub");
    assertRefused(gateway.sign(claims), XrpcError.InvalidToken, "sub");

    claims.put("jti", "bad-sub");
    claims.put("sub", "alice");
    assertRefused(gateway.sign(claims), XrpcError.InvalidToken, "sub is not a DID");

    // Anyone else's sub is still ignored, also while a delegating issuer is configured.
    Map<String, Object> own = claims(mallory);
    own.put("sub", alice.did().value());
    assertThat(authenticate(mallory.sign(own))).isEqualTo(mallory.did());
    // A forged gateway token (signed by someone else) is refused before sub is looked at.
    Map<String, Object> forged = claims(gateway);
    forged.put("sub", alice.did().value());
    forged.put("jti", "forged");
    assertRefused(mallory.sign(forged), XrpcError.InvalidToken, "bad signature");
  }

  @Test
  void replayedJtiIsRefusedPerIssuer() {
    DevIdentity alice = plcUser(KeyType.K256);
    DevIdentity bob = plcUser(KeyType.K256);
    Map<String, Object> claims = claims(alice);
    String token = alice.sign(claims);
    assertThat(authenticate(token)).isEqualTo(alice.did());
    assertRefused(token, XrpcError.TokenReplayed, "already used");

    Map<String, Object> bobs = claims(bob);
    bobs.put("jti", claims.get("jti")); // another issuer may use the same jti
    assertThat(authenticate(bob.sign(bobs))).isEqualTo(bob.did());
  }

  // ---- resolution failures

  @Test
  void unknownDidIsInvalidToken() {
    DevIdentity ghost = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    assertRefused(ghost.sign(claims(ghost)), XrpcError.InvalidToken, "does not resolve (404)");
  }

  @Test
  void directoryErrorIsUnavailableAndRecovers() throws Exception {
    DevIdentity alice = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    directory.respond(directory.pathOf(alice.did()), 502, "");
    assertRefused(alice.sign(claims(alice)), XrpcError.Unavailable, "502");

    directory.publish(alice.did(), alice.publicKey());
    Thread.sleep(DidResolver.UNREACHABLE_TTL.toMillis() + 100);
    assertThat(authenticate(alice.sign(claims(alice)))).isEqualTo(alice.did());
  }

  @Test
  void hangingDirectoryIsUnavailableNotAHang() {
    DevIdentity alice = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    directory.respondSlowly(directory.pathOf(alice.did()), 5_000);
    auth = authenticator(config(true), Duration.ofMillis(300));
    long started = System.nanoTime();
    assertRefused(alice.sign(claims(alice)), XrpcError.Unavailable, "did not answer");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
  }

  @Test
  void oversizedDidDocumentIsRefused() {
    DevIdentity alice = DevIdentity.generate(KeyType.K256).as(FakeDirectory.randomPlcDid());
    directory.respond(directory.pathOf(alice.did()), 200,
        "{\"id\":\"" + alice.did() + "\",\"pad\":\"" + "x".repeat(DidResolver.MAX_DOCUMENT_BYTES) + "\"}");
    assertRefused(alice.sign(claims(alice)), XrpcError.InvalidToken, "exceeds");
  }

  @Test
  void didWebOnALoopbackHostIsRefusedUnlessAllowed() {
    Did did = directory.webDid();
    DevIdentity id = DevIdentity.generate(KeyType.K256).as(did);
    directory.publish(did, id.publicKey());
    Config c = config(true);
    auth = authenticator(new Config(c.profile(), c.bind(), c.port(), c.dataDir(), c.databaseUrl(), c.serviceDid(),
        true, c.plcUrl(), List.of(), null, c.limits()));
    int before = directory.requests();
    assertRefused(id.sign(claims(id)), XrpcError.InvalidToken, "is not a public address");
    assertThat(directory.requests()).isEqualTo(before); // nothing was fetched
  }

  @Test
  void malformedDidWebIdentifiersAreRefused() {
    for (String did : List.of("did:web:localhost%2F..%2Fadmin", "did:web:localhost:..:secret", "did:web:-bad-")) {
      DevIdentity id = DevIdentity.generate(KeyType.K256).as(new Did(did));
      assertRefused(id.sign(claims(id)), XrpcError.InvalidToken, "malformed did:web");
    }
  }
}
