package dev.mlsds.server.delivery;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.delivery.MessageStore.MessageView;
import java.time.Instant;
import java.util.List;

/** The records of the message and Welcome methods (docs/api.md §5-§6). */
public final class Delivery {
  private Delivery() {}

  public static final class SendMessage {
    public record Output(String messageId, long seq, long epoch, Instant receivedAt) {}
  }

  public static final class GetMessages {
    /** {@code cursor} (the 2025 lexicon's): the id of the last message returned when more follow, for {@code sinceMessage}. */
    public record Output(List<MessageView> messages, long lastSeq, boolean hasMore, String cursor) {}
  }

  public static final class GetCommits {
    /**
     * {@code epoch} is the epoch the Commit creates (the 2025 lexicon's meaning, which its clients page by);
     * {@code sentInEpoch} the epoch it was sent in.
     */
    public record CommitView(long seq, long epoch, long sentInEpoch, Did sender, byte[] commitData, Instant createdAt) {}

    public record Output(String convoId, List<CommitView> commits, boolean hasMore) {}
  }

  public static final class GetWelcome {
    public record Output(String convoId, String welcome, String keyPackageRef, String deviceId) {}
  }

  public static final class ConfirmWelcome {
    public record Output(boolean confirmed) {}
  }
}
