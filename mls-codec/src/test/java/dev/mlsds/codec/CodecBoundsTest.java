package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.codec.testing.TestKeyPackages;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The counted limits of {@link CodecLimits} and the linear KeyPackage rules, on the inputs of the 2026-12
 * security review: H2 (quadratic KeyPackage validation before any signature check) and M4 (vector parsing
 * amplified memory about 19 times).
 */
class CodecBoundsTest {
    private static final String ALICE = "did:plc:alice";
    private static final CipherSuite SUITE_1 = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final KeyPackageValidator validator =
            new KeyPackageValidator(Clock.systemUTC(), KeyPackagePolicy.defaults());

    private void assertRule(byte[] raw, String rule, String messagePart) {
        assertThatThrownBy(() -> validator.validate(raw, ALICE))
                .isInstanceOfSatisfying(InvalidKeyPackageException.class, e -> {
                    assertThat(e.rule()).isEqualTo(rule);
                    assertThat(e.getMessage()).contains(messagePart);
                });
    }

    @Test
    @DisplayName("H2: the review's 62 KB KeyPackage (10,000 leaf extensions, 16,000 capability entries) is refused while parsing")
    void reviewWorstCaseKeyPackageIsRefusedByTheCounts() {
        TestKeyPackages.Builder b = TestKeyPackages.builder(SUITE_1, ALICE);
        for (int i = 0; i < 10_000; i++) {
            b.leafExtension(0x00FF, new byte[0], false);
        }
        for (int i = 0; i < 15_999; i++) {
            b.capabilityExtension(0x0006);
        }
        b.capabilityExtension(0x00FF);
        byte[] raw = b.build();
        assertThat(raw.length).isBetween(60_000, 64 * 1024);
        long cpuBefore = THREADS.getCurrentThreadCpuTime();
        assertRule(raw, KeyPackageValidator.RULE_PARSE, "capabilities.extensions: 16000 entries exceed the limit of 64");
        // The same shapes within the caps: 64 capability entries, 32 leaf extensions.
        TestKeyPackages.Builder capped = TestKeyPackages.builder(SUITE_1, ALICE);
        for (int i = 0; i < 32; i++) {
            capped.leafExtension(0x00FF, new byte[0], false);
        }
        for (int i = 0; i < 62; i++) {
            capped.capabilityExtension(0x0006);
        }
        capped.capabilityExtension(0x00FF);
        assertRule(capped.build(), KeyPackageValidator.RULE_DUPLICATE, "capabilities.extensions lists 0x0006 more than once");
        assertThat(THREADS.getCurrentThreadCpuTime()).isGreaterThan(cpuBefore);
    }

    @Test
    @DisplayName("H2: repeated capability entries and repeated extension types are refused before any signature check")
    void duplicatesAreRefused() {
        assertRule(TestKeyPackages.builder(SUITE_1, ALICE).capabilityExtension(0x1234).capabilityExtension(0x1234).build(),
                KeyPackageValidator.RULE_DUPLICATE, "capabilities.extensions lists 0x1234 more than once");
        assertRule(TestKeyPackages.builder(SUITE_1, ALICE)
                        .leafExtension(0x1234, new byte[] {1}, true).leafExtension(0x1234, new byte[] {2}, false).build(),
                KeyPackageValidator.RULE_DUPLICATE, "leaf_node.extensions lists 0x1234 more than once");
        // 33 distinct leaf extensions exceed the extension-list cap.
        TestKeyPackages.Builder many = TestKeyPackages.builder(SUITE_1, ALICE);
        for (int i = 0; i < CodecLimits.EXTENSIONS + 1; i++) {
            many.leafExtension(0x1000 + i, new byte[0], true);
        }
        assertRule(many.build(), KeyPackageValidator.RULE_PARSE, "leaf_node.extensions: more than 32 elements");
        // At the caps and distinct, a KeyPackage is valid.
        TestKeyPackages.Builder full = TestKeyPackages.builder(SUITE_1, ALICE);
        for (int i = 0; i < CodecLimits.EXTENSIONS; i++) {
            full.leafExtension(0x1000 + i, new byte[0], true);
        }
        for (int i = 0; i < CodecLimits.CAPABILITY_ENTRIES - CodecLimits.EXTENSIONS; i++) {
            full.capabilityExtension(0x2000 + i);
        }
        assertThat(validator.validate(full.build(), ALICE).identity()).isEqualTo(ALICE);
    }

    @Test
    @DisplayName("M4: a 10 MB commit of 5 million empty proposal references is refused at the proposal cap, allocating a fraction of its size")
    void reviewCommitOfEmptyReferences() {
        byte[] input = publicCommit(proposals -> {
            for (int i = 0; i < 5_000_000; i++) {
                proposals.u8(2).u8(0);
            }
        });
        assertThat(input.length).isGreaterThan(10_000_000);
        long allocated = allocatedBy(() -> assertThatThrownBy(() -> MlsMessage.decode(input))
                .isInstanceOfSatisfying(MlsDecodeException.class,
                        e -> assertThat(e.reason()).isEqualTo("commit.proposals: more than 10000 elements")));
        // decode keeps one copy of its input; the proposals read before the cap cost well under a megabyte.
        assertThat(allocated).as("bytes allocated").isLessThan(input.length + (2L << 20));
    }

    @Test
    @DisplayName("M4: nested vectors share one element budget, so any decode allocates at most a small multiple of its size")
    void allocationIsLinearInTheInput() {
        // Within the caps: 32 path nodes of 10,000 empty ciphertexts (640 KB) would be 320,000 objects.
        byte[] nested = publicCommit(proposals -> { }, w -> {
            w.optional(true);
            leafNode(w);
            w.vector(nodes -> {
                for (int n = 0; n < CodecLimits.PATH_NODES; n++) {
                    nodes.opaque(new byte[32]).vector(secrets -> {
                        for (int i = 0; i < CodecLimits.PATH_SECRETS; i++) {
                            secrets.u8(0).u8(0);
                        }
                    });
                }
            });
        });
        // 9,000 empty references (18 KB) are under the proposal cap but over the budget of an 18 KB input.
        byte[] refs = publicCommit(proposals -> {
            for (int i = 0; i < 9_000; i++) {
                proposals.u8(2).u8(0);
            }
        });
        for (byte[] input : List.of(nested, refs)) {
            long allocated = allocatedBy(() -> assertThatThrownBy(() -> MlsMessage.decode(input))
                    .isInstanceOfSatisfying(MlsDecodeException.class,
                            e -> assertThat(e.reason()).contains("the input holds more elements than its size allows")));
            assertThat(allocated).as("bytes allocated decoding %d bytes", input.length)
                    .isLessThan(8L * input.length + (1L << 20));
        }
        // A real large commit still decodes: 1,000 inline Adds.
        byte[] kp = KeyPackage.decode(TestKeyPackages.builder(SUITE_1, ALICE).build()).bareBytes();
        byte[] adds = publicCommit(proposals -> {
            for (int i = 0; i < 1_000; i++) {
                proposals.u8(1).u16(Proposal.ADD).bytes(kp);
            }
        });
        assertThat(MlsMessage.decode(adds)).isInstanceOf(PublicMessage.class);
    }

    private static long allocatedBy(Runnable r) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        r.run();
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    private static byte[] publicCommit(Consumer<MlsWriter> proposals) {
        return publicCommit(proposals, w -> w.optional(false));
    }

    /** A PublicMessage commit from member 0 at epoch 1 with the given proposals and path. */
    private static byte[] publicCommit(Consumer<MlsWriter> proposals, Consumer<MlsWriter> path) {
        MlsWriter w = MlsWriter.messageHeader(WireFormat.MLS_PUBLIC_MESSAGE).opaque(new byte[16]).u64(1);
        new Sender(Sender.Type.MEMBER, 0).write(w);
        w.opaque(new byte[0]).u8(ContentType.COMMIT.value());
        w.vector(proposals);
        path.accept(w);
        return w.opaque(new byte[64]).opaque(new byte[32]).opaque(new byte[32]).toByteArray();
    }

    private static void leafNode(MlsWriter w) {
        w.opaque(new byte[32]).opaque(new byte[32]).u16(Credential.BASIC).opaque(ALICE.getBytes())
                .u16List(List.of(1)).u16List(List.of()).u16List(List.of()).u16List(List.of()).u16List(List.of(1))
                .u8(3).opaque(new byte[32]).vector(ext -> { }).opaque(new byte[64]);
    }
}
