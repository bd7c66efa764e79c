package dev.mlsds.benchmarks.auth;

import com.sun.net.httpserver.HttpServer;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.AtprotoKey;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.auth.DidResolver;
import dev.mlsds.server.auth.KeyType;
import dev.mlsds.server.auth.ServiceAuthenticator;
import dev.mlsds.server.auth.ServiceToken;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of authenticating one XRPC request (docs/BENCHMARKS.md, "Service-token verification"): the whole
 * {@link ServiceAuthenticator} path with the issuer's DID document cached, next to the floor — one raw
 * Bouncy Castle ECDSA verify (SHA-256 + {@link ECDSASigner}) of the same token with the same key.
 *
 * <p>The replay store is left out here (a no-op) because it is a database round trip whose cost depends
 * on the backend, not on verification; {@code JtiStoreBenchmark} measures it on its own.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ServiceAuthBenchmark {
  static final String NSID = "blue.catbird.mls.getConvos";

  @Param({"K256", "P256"})
  public KeyType keyType;

  private HttpServer directory;
  private ServiceAuthenticator authenticator;
  private String header;
  private AtprotoKey key;
  private byte[] signingInput;
  private BigInteger r;
  private BigInteger s;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    Did did = new Did("did:plc:" + "abcdefghijklmnopqrstuvwx");
    DevIdentity user = DevIdentity.generate(keyType).as(did);
    byte[] doc = Json.write(Map.of("id", did.value(), "verificationMethod", List.of(Map.of(
        "id", "#atproto", "type", "Multikey", "publicKeyMultibase", user.publicKey().multikey()))))
        .getBytes(StandardCharsets.UTF_8);
    directory = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    directory.createContext("/", exchange -> {
      exchange.sendResponseHeaders(200, doc.length);
      exchange.getResponseBody().write(doc);
      exchange.close();
    });
    directory.start();

    Instant now = Instant.now();
    Config d = Config.devDefaults();
    Config config = new Config(d.profile(), d.bind(), 0, Path.of("unused"), null, d.serviceDid(), false,
        "http://127.0.0.1:" + directory.getAddress().getPort(), List.of(), null, d.limits());
    // a fixed clock keeps the one token valid for the whole run; the replay store accepts it every time
    authenticator = new ServiceAuthenticator(config, Clock.fixed(now, ZoneOffset.UTC), new DidResolver(config),
        (issuer, jti, exp) -> true);
    String token = user.token(config.serviceDid(), NSID, now);
    header = "Bearer " + token;
    if (!authenticator.authenticate(header, NSID).equals(did)) { // also warms the DID cache
      throw new IllegalStateException("setup token refused");
    }

    ServiceToken parsed = ServiceToken.parse(token);
    key = user.publicKey();
    signingInput = parsed.signingInput();
    r = new BigInteger(1, parsed.signature(), 0, 32);
    s = new BigInteger(1, parsed.signature(), 32, 32);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    directory.stop(0);
  }

  /** The floor: hash the signing input and verify with Bouncy Castle, nothing else. */
  @Benchmark
  public boolean rawBouncyCastleVerify() throws Exception {
    ECDSASigner verifier = new ECDSASigner();
    verifier.init(false, key.params());
    return verifier.verifySignature(MessageDigest.getInstance("SHA-256").digest(signingInput), r, s);
  }

  /** Everything a request pays: header, parse, claims, cached key lookup, low-S, verify. */
  @Benchmark
  public Did authenticateCachedDid() {
    return authenticator.authenticate(header, NSID);
  }
}
