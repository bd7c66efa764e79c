package dev.mlsds.benchmarks.load;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time from Linux's {@code /proc}, read before and after a timed phase: the measured process (user and
 * system apart), the local PostgreSQL server (every {@code postgres} process, plus the CPU of backends that
 * exited in between, which the kernel adds to the postmaster's children's time when it reaps them), and the
 * whole machine (busy vs idle ticks of {@code /proc/stat}). With these the benchmark can say where a
 * request's CPU went on a machine that the server, PostgreSQL and the load generator share.
 */
record CpuMeter(long targetUserTicks, long targetSysTicks, long dbTicks, long machineBusyTicks,
    long machineTotalTicks) {

  static final long TICKS_PER_SECOND = 100; // USER_HZ on Linux

  /** A reading now; {@code targetPid} 0 reads no target. */
  static CpuMeter read(long targetPid) {
    long[] target = targetPid > 0 ? ticks(targetPid) : new long[4];
    long[] machine = machine();
    return new CpuMeter(target[0], target[1], postgresTicks(), machine[0], machine[1]);
  }

  /** What happened between {@code before} and this reading, in milliseconds of CPU (and a busy share). */
  Delta since(CpuMeter before) {
    double ms = 1000.0 / TICKS_PER_SECOND;
    long total = machineTotalTicks - before.machineTotalTicks;
    return new Delta((targetUserTicks - before.targetUserTicks) * ms, (targetSysTicks - before.targetSysTicks) * ms,
        (dbTicks - before.dbTicks) * ms,
        total <= 0 ? Double.NaN : 100.0 * (machineBusyTicks - before.machineBusyTicks) / total);
  }

  /** CPU used in a phase: the target's user and system time, PostgreSQL's, and how busy the machine was. */
  record Delta(double targetUserMs, double targetSysMs, double dbMs, double machineBusyPct) {
    double targetMs() {
      return targetUserMs + targetSysMs;
    }
  }

  /** utime, stime, cutime, cstime of a process in ticks (fields 14–17 of /proc/pid/stat); zeros if gone. */
  static long[] ticks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]), Long.parseLong(f[14])};
    } catch (IOException | RuntimeException e) {
      return new long[4];
    }
  }

  /**
   * CPU of the local PostgreSQL server: every live {@code postgres} process's own time, plus the postmaster's
   * children's time (backends that exited — a pgbench run's, a closed pool connection's — are added there).
   */
  static long postgresTicks() {
    long sum = 0;
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path proc : procs) {
        String comm;
        String stat;
        try {
          comm = Files.readString(proc.resolve("comm")).strip();
          if (!comm.equals("postgres")) {
            continue;
          }
          stat = Files.readString(proc.resolve("stat"));
        } catch (IOException | RuntimeException e) {
          continue; // exited while we looked
        }
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        sum += Long.parseLong(f[11]) + Long.parseLong(f[12]);
        long ppid = Long.parseLong(f[1]);
        if (!isPostgres(ppid)) { // the postmaster: its reaped children's time too
          sum += Long.parseLong(f[13]) + Long.parseLong(f[14]);
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return sum;
  }

  private static boolean isPostgres(long pid) {
    try {
      return Files.readString(Path.of("/proc/" + pid + "/comm")).strip().equals("postgres");
    } catch (IOException e) {
      return false;
    }
  }

  /** Busy and total ticks of all CPUs (the {@code cpu} line of /proc/stat; idle and iowait count as not busy). */
  static long[] machine() {
    try {
      String first = Files.readAllLines(Path.of("/proc/stat")).get(0);
      String[] f = first.trim().split("\\s+");
      long total = 0;
      for (int i = 1; i < Math.min(f.length, 9); i++) { // user nice system idle iowait irq softirq steal
        total += Long.parseLong(f[i]);
      }
      long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
      return new long[] {total - idle, total};
    } catch (IOException | RuntimeException e) {
      return new long[2];
    }
  }
}
