package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@code welcome.json} (7 suites) and {@code passive-client-welcome.json} (56 pairs, 8 per suite):
 * the KeyPackageRef we compute for {@code key_package} is the Welcome's {@code new_member}, and the
 * KeyPackage validates, for every RFC cipher suite.
 */
class WelcomeVectorTest {
    /** welcome.json KeyPackages claim the whole 64-bit lifetime range: only an unbounded policy accepts them. */
    private static final KeyPackagePolicy UNBOUNDED = KeyPackagePolicy.defaults()
            .withMaxLifetime(KeyPackagePolicy.UNBOUNDED_LIFETIME);

    @Test
    void welcomeJsonRefsMatchAndKeyPackagesValidate() {
        JsonNode vectors = Vectors.load("welcome.json");
        assertThat(vectors).hasSize(7);
        KeyPackageValidator validator = new KeyPackageValidator(Clock.systemUTC(), UNBOUNDED);
        Set<Integer> suites = new TreeSet<>();
        for (JsonNode v : vectors) {
            int suite = v.get("cipher_suite").asInt();
            suites.add(suite);
            checkPair(validator, suite, Vectors.hex(v.get("key_package")), Vectors.hex(v.get("welcome")));
        }
        assertThat(suites).containsExactly(1, 2, 3, 4, 5, 6, 7);
    }

    @Test
    void welcomeJsonLifetimesAreRejectedByTheDefaultPolicy() {
        KeyPackageValidator validator = new KeyPackageValidator(Clock.systemUTC(), KeyPackagePolicy.defaults());
        byte[] kp = Vectors.hex(Vectors.load("welcome.json").get(0).get("key_package"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> validator.validate(kp, null))
                .isInstanceOfSatisfying(InvalidKeyPackageException.class,
                        e -> assertThat(e.rule()).isEqualTo(KeyPackageValidator.RULE_LIFETIME_TOO_LONG));
    }

    @Test
    void passiveClientWelcomeRefsMatchAndKeyPackagesValidate() {
        JsonNode vectors = Vectors.load("passive-client-welcome.json");
        assertThat(vectors).hasSize(56);
        int[] perSuite = new int[8];
        for (JsonNode v : vectors) {
            int suite = v.get("cipher_suite").asInt();
            byte[] kpBytes = Vectors.hex(v.get("key_package"));
            Lifetime lifetime = KeyPackage.decode(kpBytes).leafNode().lifetime();
            // Validate at a moment inside this KeyPackage's own lifetime.
            Instant inside = Instant.ofEpochSecond(Math.max(lifetime.notBefore(), 0) + 1);
            KeyPackageValidator validator = new KeyPackageValidator(Clock.fixed(inside, ZoneOffset.UTC), UNBOUNDED);
            checkPair(validator, suite, kpBytes, Vectors.hex(v.get("welcome")));
            perSuite[suite]++;
        }
        for (int suite = 1; suite <= 7; suite++) {
            assertThat(perSuite[suite]).as("pairs for suite %d", suite).isEqualTo(8);
        }
    }

    private static void checkPair(KeyPackageValidator validator, int suite, byte[] kpBytes, byte[] welcomeBytes) {
        ValidatedKeyPackage kp = validator.validate(kpBytes, null);
        assertThat(kp.cipherSuite().id()).isEqualTo(suite);
        Welcome welcome = (Welcome) MlsMessage.decode(welcomeBytes);
        assertThat(welcome.cipherSuite()).isEqualTo(suite);
        assertThat(welcome.encode()).isEqualTo(welcomeBytes);
        assertThat(welcome.newMembers()).as("suite %d recipients", suite)
                .anySatisfy(ref -> assertThat(ref).isEqualTo(kp.ref()));
        assertThat(kp.ref()).isEqualTo(kp.keyPackage().ref()).hasSize(kp.cipherSuite().refLength());
    }
}
