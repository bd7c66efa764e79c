package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import java.time.Instant;
import java.util.List;

/** The records of the conversation methods (docs/api.md §4): views and each method's input and output. */
public final class Conversations {
  private Conversations() {}

  /** {@code memberView}. */
  public record MemberView(Did did, Instant joinedAt, String role, List<String> devices) {}

  /** {@code convoView}; {@code id} = {@code groupId} = the hex MLS group id. */
  public record ConvoView(String id, String groupId, Did creator, List<MemberView> members, long epoch,
      String cipherSuite, Instant createdAt, Instant lastMessageAt, Metadata metadata, String handshakePolicy,
      boolean adminOnlyAdds) {}

  public record Metadata(String name, String description) {}

  public static final class CreateConvo {
    /** {@code handshakePolicy} null: the server's default; {@code adminOnlyAdds} null: false. */
    public record Input(ConvoId groupId, int cipherSuite, Metadata metadata, List<Did> initialMembers,
        byte[] commit, byte[] welcome, byte[] groupInfo, HandshakePolicy handshakePolicy, Boolean adminOnlyAdds) {}
  }

  public static final class AddMembers {
    public record Input(ConvoId convoId, List<Did> didList, byte[] commit, byte[] welcome, byte[] groupInfo) {}

    public record WelcomeRecipient(Did did, String deviceId, String keyPackageRef) {}

    public record Output(boolean success, long newEpoch, List<WelcomeRecipient> welcomeRecipients) {}
  }

  public static final class RemoveMember {
    public record Input(ConvoId convoId, Did targetDid, byte[] commit, byte[] groupInfo) {}

    public record Output(boolean success, long newEpoch) {}
  }

  public static final class ResetGroup {
    /**
     * {@code fromGroupId}/{@code fromEpoch}: the state the caller resets from (compare-and-set); {@code groupId}:
     * the new MLS group; {@code didList}: the members re-added (the others are removed).
     */
    public record Input(ConvoId convoId, String fromGroupId, long fromEpoch, ConvoId groupId, List<Did> didList,
        byte[] commit, byte[] welcome, byte[] groupInfo, String reason) {}

    public record Output(boolean success, String groupId, long epoch, long resetSeq,
        List<AddMembers.WelcomeRecipient> welcomeRecipients, List<Did> removed) {}
  }

  public static final class LeaveConvo {
    /** {@code targetDid} null or the caller, and no commit: the caller leaves; else a removal (removeMember). */
    public record Input(ConvoId convoId, Did targetDid, byte[] commit) {}

    /** {@code newEpoch} is required by the 2025 lexicon: the current epoch when no commit was given. */
    public record Output(boolean success, long newEpoch) {}
  }

  public static final class GetConvos {
    public record Output(List<ConvoView> conversations, String cursor) {}
  }

  public static final class GetEpoch {
    public record Output(String convoId, long currentEpoch) {}
  }

  public static final class GetGroupInfo {
    public record Output(byte[] groupInfo, long epoch) {}
  }

  public static final class UpdateGroupInfo {
    public record Output(boolean success, long epoch) {}
  }

  public static final class ProcessExternalCommit {
    public record Output(long epoch) {}
  }
}
