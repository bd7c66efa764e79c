package dev.mlsds.benchmarks.auth;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * Adds {@code ·cpu.us/op}: CPU time the benchmark JVM spent per operation in each iteration
 * ({@code -prof dev.mlsds.benchmarks.auth.CpuTimeProfiler}). On a machine shared with other work the
 * wall-clock score measures the queue for a core as much as the code; CPU time does not. It counts every
 * thread of the fork (JIT and GC included), so it is an upper bound once warm-up is over.
 */
public final class CpuTimeProfiler implements InternalProfiler {
  private final OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private long startNanos;

  @Override
  public String getDescription() {
    return "process CPU time per operation";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
    startNanos = os.getProcessCpuTime();
  }

  @Override
  public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams,
      IterationResult result) {
    long ops = result.getMetadata().getMeasuredOps();
    double microsPerOp = ops == 0 ? Double.NaN : (os.getProcessCpuTime() - startNanos) / 1e3 / ops;
    return List.of(new ScalarResult("·cpu", microsPerOp, "us/op", AggregationPolicy.AVG));
  }
}
