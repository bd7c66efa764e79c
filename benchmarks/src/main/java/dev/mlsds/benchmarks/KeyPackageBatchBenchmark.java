package dev.mlsds.benchmarks;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackagePolicy;
import dev.mlsds.codec.KeyPackageValidator;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * A {@code publishKeyPackages} batch at its maximum size: 100 distinct suite-1 KeyPackages of one
 * device (one signature key), validated one after another on one thread. The goal is well under
 * 100 ms per batch.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class KeyPackageBatchBenchmark {
    private static final String IDENTITY = "did:plc:benchmark";
    private static final int BATCH = 100;

    private byte[][] batch;
    private KeyPackageValidator validator;

    @Setup
    public void setUp() {
        CipherSuite suite = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
        SigningKey device = SigningKey.generate(suite);
        Instant now = Instant.now();
        batch = new byte[BATCH][];
        for (int i = 0; i < BATCH; i++) {
            batch[i] = TestKeyPackages.builder(suite, IDENTITY).signingKey(device)
                    .lifetime(now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(30))).build();
        }
        validator = new KeyPackageValidator(Clock.systemUTC(), KeyPackagePolicy.defaults());
    }

    @Benchmark
    public void validate100(Blackhole bh) {
        for (byte[] kp : batch) {
            bh.consume(validator.validate(kp, IDENTITY));
        }
    }
}
