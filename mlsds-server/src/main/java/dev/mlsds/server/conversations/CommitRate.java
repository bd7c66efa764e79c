package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Commits per member per conversation per minute, on this node (fixed one-minute windows): a member that
 * commits in a loop (a buggy client, or one moving the epoch to lock others out) gets 429
 * {@code RateLimitExceeded} with a retry time. Only accepted commits count. 0 = unlimited.
 */
final class CommitRate {
  private static final int MAX_KEYS = 100_000;
  private final int perMinute;
  private final Clock clock;
  private final Map<String, long[]> windows = new ConcurrentHashMap<>();

  CommitRate(int perMinute, Clock clock) {
    this.perMinute = perMinute;
    this.clock = clock;
  }

  void check(String convoId, Did member) {
    if (perMinute == 0) {
      return;
    }
    long minute = clock.millis() / 60_000;
    long[] w = windows.get(key(convoId, member));
    if (w != null && w[0] == minute && w[1] >= perMinute) {
      long retry = Math.max(1, 60 - (clock.millis() / 1000) % 60);
      throw new XrpcException(XrpcError.RateLimitExceeded, "at most " + perMinute
          + " commits per member per minute in one conversation", Map.of(), retry);
    }
  }

  void accepted(String convoId, Did member) {
    if (perMinute == 0) {
      return;
    }
    long minute = clock.millis() / 60_000;
    if (windows.size() > MAX_KEYS) {
      windows.values().removeIf(w -> w[0] < minute);
    }
    windows.compute(key(convoId, member), (k, w) -> w == null || w[0] != minute ? new long[] {minute, 1}
        : new long[] {minute, w[1] + 1});
  }

  private static String key(String convoId, Did member) {
    return convoId + " " + member.value();
  }
}
