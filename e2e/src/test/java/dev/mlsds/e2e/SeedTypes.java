package dev.mlsds.e2e;

import static dev.mlsds.e2e.SeedDecoding.array;
import static dev.mlsds.e2e.SeedDecoding.base64UrlString;
import static dev.mlsds.e2e.SeedDecoding.bool;
import static dev.mlsds.e2e.SeedDecoding.bytes;
import static dev.mlsds.e2e.SeedDecoding.datetime;
import static dev.mlsds.e2e.SeedDecoding.did;
import static dev.mlsds.e2e.SeedDecoding.integer;
import static dev.mlsds.e2e.SeedDecoding.object;
import static dev.mlsds.e2e.SeedDecoding.optArray;
import static dev.mlsds.e2e.SeedDecoding.optBytes;
import static dev.mlsds.e2e.SeedDecoding.optDatetime;
import static dev.mlsds.e2e.SeedDecoding.optInteger;
import static dev.mlsds.e2e.SeedDecoding.optRef;
import static dev.mlsds.e2e.SeedDecoding.optString;
import static dev.mlsds.e2e.SeedDecoding.ref;
import static dev.mlsds.e2e.SeedDecoding.string;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.OffsetDateTime;
import java.util.List;

/**
 * The output types of the seed lexicons (blue.catbird.mls, 2025-10-31), one record per lexicon object with the
 * seed's field names, types and {@code required} lists, each with a {@code decode} that reads a server response the
 * way the Petrel model generated from that lexicon does ({@link SeedDecoding}). Binary {@code string} fields are
 * decoded to bytes here already, with the app's base64url helper, because that is what the app does next.
 */
final class SeedTypes {
  private SeedTypes() {}

  /** {@code blue.catbird.mls.defs#memberView}. */
  record MemberView(String did, OffsetDateTime joinedAt, Long leafIndex, byte[] credential) {
    static MemberView decode(JsonNode n, String p) {
      object(n, p);
      return new MemberView(SeedDecoding.did(n, "did", p), datetime(n, "joinedAt", p), optInteger(n, "leafIndex", p),
          optBytes(n, "credential", p));
    }
  }

  record ConvoMetadata(String name, String description) {
    static ConvoMetadata decode(JsonNode n, String p) {
      object(n, p);
      return new ConvoMetadata(optString(n, "name", p), optString(n, "description", p));
    }
  }

  /** {@code blue.catbird.mls.defs#convoView}. */
  record ConvoView(String id, String groupId, String creator, List<MemberView> members, long epoch, String cipherSuite,
      OffsetDateTime createdAt, OffsetDateTime lastMessageAt, ConvoMetadata metadata) {
    static ConvoView decode(JsonNode n, String p) {
      object(n, p);
      return new ConvoView(string(n, "id", p), string(n, "groupId", p), did(n, "creator", p),
          array(n, "members", p, MemberView::decode), integer(n, "epoch", p), string(n, "cipherSuite", p),
          datetime(n, "createdAt", p), optDatetime(n, "lastMessageAt", p), optRef(n, "metadata", p, ConvoMetadata::decode));
    }

    List<String> memberDids() {
      return members.stream().map(MemberView::did).toList();
    }
  }

  /** {@code blue.catbird.mls.defs#messageView}. */
  record MessageView(String id, String convoId, String sender, byte[] ciphertext, long epoch, long seq,
      OffsetDateTime createdAt, String embedType, String embedUri) {
    static MessageView decode(JsonNode n, String p) {
      object(n, p);
      return new MessageView(string(n, "id", p), string(n, "convoId", p), did(n, "sender", p), bytes(n, "ciphertext", p),
          integer(n, "epoch", p), integer(n, "seq", p), datetime(n, "createdAt", p), optString(n, "embedType", p),
          optString(n, "embedUri", p));
    }
  }

  /** {@code blue.catbird.mls.defs#keyPackageRef}: {@code keyPackage} is a base64url string. */
  record KeyPackageRef(String did, byte[] keyPackage, String cipherSuite) {
    static KeyPackageRef decode(JsonNode n, String p) {
      object(n, p);
      return new KeyPackageRef(SeedDecoding.did(n, "did", p), base64UrlString(n, "keyPackage", p), string(n, "cipherSuite", p));
    }
  }

  record GetConvosOutput(List<ConvoView> conversations, String cursor) {
    static GetConvosOutput decode(JsonNode n) {
      String p = "getConvos";
      object(n, p);
      return new GetConvosOutput(array(n, "conversations", p, ConvoView::decode), optString(n, "cursor", p));
    }
  }

  record GetKeyPackagesOutput(List<KeyPackageRef> keyPackages, List<String> missing) {
    static GetKeyPackagesOutput decode(JsonNode n) {
      String p = "getKeyPackages";
      object(n, p);
      return new GetKeyPackagesOutput(array(n, "keyPackages", p, KeyPackageRef::decode),
          optArray(n, "missing", p, SeedDecoding.ElementDecoder.didValue()));
    }
  }

  record GetMessagesOutput(List<MessageView> messages, String cursor) {
    static GetMessagesOutput decode(JsonNode n) {
      String p = "getMessages";
      object(n, p);
      return new GetMessagesOutput(array(n, "messages", p, MessageView::decode), optString(n, "cursor", p));
    }
  }

  /** {@code blue.catbird.mls.getCommits#commitMessage}: {@code epoch} is the epoch the commit creates. */
  record CommitMessage(long epoch, String sender, byte[] commitData, OffsetDateTime createdAt) {
    static CommitMessage decode(JsonNode n, String p) {
      object(n, p);
      return new CommitMessage(integer(n, "epoch", p), did(n, "sender", p), bytes(n, "commitData", p),
          datetime(n, "createdAt", p));
    }
  }

  record GetCommitsOutput(String convoId, List<CommitMessage> commits) {
    static GetCommitsOutput decode(JsonNode n) {
      String p = "getCommits";
      object(n, p);
      return new GetCommitsOutput(string(n, "convoId", p), array(n, "commits", p, CommitMessage::decode));
    }
  }

  record GetEpochOutput(String convoId, long currentEpoch) {
    static GetEpochOutput decode(JsonNode n) {
      String p = "getEpoch";
      object(n, p);
      return new GetEpochOutput(string(n, "convoId", p), integer(n, "currentEpoch", p));
    }
  }

  /** {@code welcome} is a base64url string, decoded as the app does. */
  record GetWelcomeOutput(String convoId, byte[] welcome) {
    static GetWelcomeOutput decode(JsonNode n) {
      String p = "getWelcome";
      object(n, p);
      return new GetWelcomeOutput(string(n, "convoId", p), base64UrlString(n, "welcome", p));
    }
  }

  /** The output of addMembers and of leaveConvo: both require {@code success} and {@code newEpoch}. */
  record EpochChange(boolean success, long newEpoch) {
    static EpochChange decode(JsonNode n, String method) {
      object(n, method);
      return new EpochChange(bool(n, "success", method), integer(n, "newEpoch", method));
    }
  }

  record SendMessageOutput(String messageId, OffsetDateTime receivedAt) {
    static SendMessageOutput decode(JsonNode n) {
      String p = "sendMessage";
      object(n, p);
      return new SendMessageOutput(string(n, "messageId", p), datetime(n, "receivedAt", p));
    }
  }

  // ---- streamConvoEvents: the data object of each SSE event ---------------------------------------------

  static final String EVENT_NS = "blue.catbird.mls.streamConvoEvents#";

  /** One decoded SSE data object: a seed event, or a {@code $type} the seed client does not know (it skips those). */
  sealed interface StreamEvent permits MessageEvent, InfoEvent, TypingEvent, ReactionEvent, UnknownEvent {
    /** The {@code $type} the data object carried. */
    String type();

    /**
     * The seed client's dispatch (MLSEventStreamManager.handleEvent): it reads {@code $type} first and drops an object
     * without one; a known type must then decode fully; any other type is logged and skipped.
     */
    static StreamEvent decode(JsonNode n) {
      String p = "streamConvoEvents.data";
      object(n, p);
      String type = string(n, "$type", p);
      return switch (type) {
        case EVENT_NS + "messageEvent" -> new MessageEvent(string(n, "cursor", p), ref(n, "message", p, MessageView::decode));
        case EVENT_NS + "infoEvent" -> new InfoEvent(string(n, "cursor", p), string(n, "info", p));
        case EVENT_NS + "typingEvent" -> new TypingEvent(string(n, "cursor", p), string(n, "convoId", p), did(n, "did", p),
            bool(n, "isTyping", p));
        case EVENT_NS + "reactionEvent" -> new ReactionEvent(string(n, "cursor", p), string(n, "convoId", p),
            string(n, "messageId", p), did(n, "did", p), string(n, "reaction", p), string(n, "action", p));
        default -> new UnknownEvent(type, n);
      };
    }
  }

  record MessageEvent(String cursor, MessageView message) implements StreamEvent {
    @Override
    public String type() {
      return EVENT_NS + "messageEvent";
    }
  }

  record InfoEvent(String cursor, String info) implements StreamEvent {
    @Override
    public String type() {
      return EVENT_NS + "infoEvent";
    }
  }

  record TypingEvent(String cursor, String convoId, String did, boolean isTyping) implements StreamEvent {
    @Override
    public String type() {
      return EVENT_NS + "typingEvent";
    }
  }

  record ReactionEvent(String cursor, String convoId, String messageId, String did, String reaction, String action)
      implements StreamEvent {
    @Override
    public String type() {
      return EVENT_NS + "reactionEvent";
    }
  }

  /** A {@code $type} outside the seed's union: skipped by the seed client, kept here so tests can look at it. */
  record UnknownEvent(String type, JsonNode data) implements StreamEvent {}
}
