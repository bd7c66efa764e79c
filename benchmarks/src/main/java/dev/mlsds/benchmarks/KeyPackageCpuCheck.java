package dev.mlsds.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * Cross-check of {@link KeyPackageValidationBenchmark} for a machine shared with other work: one
 * thread alternates blocks of full validations and blocks of the two raw signature verifies, and
 * times each block in thread CPU time, so waiting for a core and load drifting between JMH runs do
 * not enter the ratio. Prints, per suite, the median and the best (least disturbed) CPU µs per
 * operation of each, and the median of the per-round ratios.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.mlsds.benchmarks.KeyPackageCpuCheck [rounds]</pre>
 */
public final class KeyPackageCpuCheck {
    private static final int WARMUP_ROUNDS = 10;

    private KeyPackageCpuCheck() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        System.out.println("suite  validate-us median/best  floor-us median/best  ratio (median of rounds)");
        for (int suite : new int[] {1, 2, 5}) {
            KeyPackageValidationBenchmark b = new KeyPackageValidationBenchmark();
            b.suite = suite;
            b.setUp();
            int perBlock = suite == 5 ? 20 : 200;
            double[] validate = new double[rounds];
            double[] floor = new double[rounds];
            double[] ratio = new double[rounds];
            for (int round = -WARMUP_ROUNDS; round < rounds; round++) {
                long t0 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < perBlock; i++) {
                    if (b.validate() == null) {
                        throw new IllegalStateException();
                    }
                }
                long t1 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < perBlock; i++) {
                    if (!b.twoSignatureVerifies()) {
                        throw new IllegalStateException();
                    }
                }
                long t2 = threads.getCurrentThreadCpuTime();
                if (round >= 0) {
                    validate[round] = (t1 - t0) / 1e3 / perBlock;
                    floor[round] = (t2 - t1) / 1e3 / perBlock;
                    ratio[round] = validate[round] / floor[round];
                }
            }
            System.out.printf("%5d  %8.1f / %8.1f    %8.1f / %8.1f    %.3f%n", suite, median(validate),
                    Arrays.stream(validate).min().orElseThrow(), median(floor), Arrays.stream(floor).min().orElseThrow(),
                    median(ratio));
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
