package dev.mlsds.server.limits;

import java.time.Duration;

/**
 * What one identity may make the node hold, and for how long (docs/limits.md, "Storage, quotas and
 * retention"). Every value is configurable; {@code 0} turns a quota or a retention off.
 *
 * @param pageMaxBytes bytes of MLS data one getMessages/getCommits page carries at most (the page is
 *     cut there and says {@code hasMore}; a single larger message still goes out alone)
 * @param devicesPerDid devices (signature keys) one DID may hold KeyPackages for at a time
 * @param userMaxStoredBytes bytes of messages and Welcomes one DID may have stored at a time
 * @param userMaxStoredMessages messages one DID may have stored at a time
 * @param userMaxOpenConvos open conversations one DID may have created
 * @param storedBytesPerMinute bytes per minute one DID may submit to the methods that store them
 * @param messageRetention how long messages stay in a conversation's log ({@link Duration#ZERO}: forever)
 * @param finishedRetention how long finished Welcomes and closed conversations are kept before purge
 * @param responseMemoryBytes MLS data all responses of the node may hold at once ({@code 0}: a quarter
 *     of the maximum heap)
 * @param streamCursorsPerDid stream cursor bases kept per DID (the newest; older cursors are refused)
 */
public record StorageLimits(
    long pageMaxBytes,
    int devicesPerDid,
    long userMaxStoredBytes,
    long userMaxStoredMessages,
    int userMaxOpenConvos,
    long storedBytesPerMinute,
    Duration messageRetention,
    Duration finishedRetention,
    long responseMemoryBytes,
    int streamCursorsPerDid) {

  public static final long MIB = 1024L * 1024;

  public static StorageLimits defaults() {
    return new StorageLimits(8 * MIB, 16, 1024 * MIB, 1_000_000, 1000, 256 * MIB, Duration.ZERO, Duration.ofDays(7), 0,
        100);
  }

  public boolean keepsMessagesForever() {
    return messageRetention.isZero() || messageRetention.isNegative();
  }
}
