package dev.mlsds.codec;

import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestHandshakes;
import dev.mlsds.codec.testing.TestKeyPackages;
import java.util.ArrayList;
import java.util.List;

/**
 * Not a test: a measurement, run by hand (docs/BENCHMARKS.md, "Public group state"). Builds a group of
 * {@code members} (default 100) with the test builders, then times {@link PublicGroupState#applyCommit} (the
 * server's verification and state update per commit) for path commits from every member in turn, plus the
 * encode/decode the server does per commit, and prints the state's size. No assertions, no timing in tests.
 *
 * <pre>mvn -pl mls-codec test-compile exec:java ... or: java -cp (test+main classes, bcprov) dev.mlsds.codec.PublicGroupStateCost 100</pre>
 */
public final class PublicGroupStateCost {
    private PublicGroupStateCost() {
    }

    public static void main(String[] args) {
        int members = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        CipherSuite suite = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
        List<SigningKey> keys = new ArrayList<>();
        List<byte[]> kps = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            SigningKey k = SigningKey.generate(suite);
            keys.add(k);
            if (i > 0) {
                kps.add(TestKeyPackages.builder(suite, "did:plc:member" + i).signingKey(k).build());
            }
        }
        byte[] g = new byte[16];
        PublicGroupState state = TestHandshakes.firstCommit(suite, g, "did:plc:member0", keys.get(0), kps).next();
        // Every member commits once so that the tree is full of parent nodes, as in a long-lived group.
        List<TestHandshakes.Made> commits = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            TestHandshakes.Made m = TestHandshakes.commit(state, keys.get(i), i, List.of(), List.of(), List.of(), "did:plc:member" + i);
            state = m.next();
        }
        System.out.printf("members=%d leaves=%d state=%d bytes (%.0f bytes/member)%n", members, state.leafCount(),
                state.encode().length, (double) state.encode().length / members);
        for (int i = 0; i < 64; i++) {
            commits.add(TestHandshakes.commit(state, keys.get(i % members), i % members, List.of(), List.of(), List.of(),
                    "did:plc:member" + (i % members)));
        }
        byte[] stored = state.encode();
        for (int warm = 0; warm < 2; warm++) {
            long sink = 0;
            long t0 = System.nanoTime();
            for (int r = 0; r < rounds; r++) {
                PublicMessage pm = (PublicMessage) MlsMessage.decode(commits.get(r % commits.size()).message());
                sink += state.applyCommit(pm, List.of()).epoch();
            }
            long t1 = System.nanoTime();
            // What the server does per commit: decode the stored state (cold hash cache), verify and apply, encode.
            for (int r = 0; r < rounds; r++) {
                PublicMessage pm = (PublicMessage) MlsMessage.decode(commits.get(r % commits.size()).message());
                sink += PublicGroupState.decode(stored).applyCommit(pm, List.of()).encode().length;
            }
            long t2 = System.nanoTime();
            System.out.printf("%s: verify+apply (warm state) %.3f ms/commit; decode+verify+apply+encode %.3f ms/commit (%d)%n",
                    warm == 0 ? "warm-up" : "measured", (t1 - t0) / 1e6 / rounds, (t2 - t1) / 1e6 / rounds, sink);
        }
    }
}
