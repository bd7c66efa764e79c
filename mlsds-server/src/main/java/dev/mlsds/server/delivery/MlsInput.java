package dev.mlsds.server.delivery;

import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.GroupInfo;
import dev.mlsds.codec.MlsDecodeException;
import dev.mlsds.codec.MlsMessage;
import dev.mlsds.codec.PrivateMessage;
import dev.mlsds.codec.Proposal;
import dev.mlsds.codec.ProposalOrRef;
import dev.mlsds.codec.PublicMessage;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.Welcome;
import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads what the server needs out of client-supplied MLS bytes with the strict codec, and turns every
 * malformed or misdirected input into the API's error: {@code InvalidMlsMessage} (does not parse, wrong
 * wire format or content) or {@code WrongGroup} (another group's message). The server never takes a group
 * id, epoch or KeyPackageRef from anything but these parsed bytes.
 */
public final class MlsInput {
  private MlsInput() {}

  /** A group message (PublicMessage or PrivateMessage) as the log stores it. */
  public record GroupMessage(byte[] raw, String groupId, long epoch, ContentType contentType, PublicMessage publicMessage) {
    public boolean isCommit() {
      return contentType == ContentType.COMMIT;
    }

    public String contentTypeName() {
      return contentType.rfcName();
    }

    /** Proposal types visible in a PublicMessage commit's by-value proposals (empty when not visible). */
    public Set<Integer> visibleProposalTypes() {
      Set<Integer> types = new LinkedHashSet<>();
      if (publicMessage != null && publicMessage.commit() != null) {
        for (ProposalOrRef p : publicMessage.commit().proposals()) {
          if (p instanceof ProposalOrRef.Inline v) {
            types.add(v.proposal().type());
          }
        }
      }
      return types;
    }

    /** True when a commit's proposals are fully visible (PublicMessage with no proposal references). */
    public boolean proposalsFullyVisible() {
      return publicMessage != null && publicMessage.commit() != null
          && publicMessage.commit().proposals().stream().allMatch(p -> p instanceof ProposalOrRef.Inline);
    }

    /** KeyPackageRefs (hex) of the KeyPackages a PublicMessage commit adds by value. */
    public Set<String> addedKeyPackageRefs() {
      Set<String> refs = new LinkedHashSet<>();
      if (publicMessage != null && publicMessage.commit() != null) {
        for (ProposalOrRef p : publicMessage.commit().proposals()) {
          if (p instanceof ProposalOrRef.Inline v && v.proposal() instanceof Proposal.Add add) {
            // Without a known suite there is no hash to compute the ref with: bad input, not a server fault.
            if (add.keyPackage().suite().isEmpty()) {
              throw invalid("commit: an Add proposal's KeyPackage has the unknown cipher suite 0x"
                  + HexFormat.of().toHexDigits((short) add.keyPackage().cipherSuite()));
            }
            refs.add(HexFormat.of().formatHex(add.keyPackage().ref()));
          }
        }
      }
      return refs;
    }
  }

  /** Parses a PublicMessage or PrivateMessage for {@code convo}'s original group ({@code WrongGroup} otherwise). */
  public static GroupMessage groupMessage(byte[] bytes, ConvoId convo, String field) {
    GroupMessage g = groupMessage(bytes, field);
    requireGroup(g.groupId(), convo, field);
    return g;
  }

  /**
   * Parses a PublicMessage or PrivateMessage of any group: the caller checks {@link GroupMessage#groupId()}
   * against the conversation's current group under its lock (a conversation's group changes on a reset).
   */
  public static GroupMessage groupMessage(byte[] bytes, String field) {
    MlsMessage m = decode(bytes, field);
    return switch (m) {
      case PublicMessage p -> {
        if (p.contentType() == ContentType.APPLICATION) {
          throw invalid(field + ": application data must be a PrivateMessage (RFC 9420 §6)");
        }
        checkSender(p, field);
        yield new GroupMessage(bytes, HexFormat.of().formatHex(p.groupId()), p.epoch(), p.contentType(), p);
      }
      case PrivateMessage p -> new GroupMessage(bytes, HexFormat.of().formatHex(p.groupId()), p.epoch(),
          p.contentType(), null);
      default -> throw invalid(field + ": expected a PublicMessage or PrivateMessage, got " + m.wireFormat().rfcName());
    };
  }

  /** Parses a Commit for {@code convo}'s original group. */
  public static GroupMessage commit(byte[] bytes, ConvoId convo, String field) {
    GroupMessage g = commit(bytes, field);
    requireGroup(g.groupId(), convo, field);
    return g;
  }

  /** Parses a Commit of any group (see {@link #groupMessage(byte[], String)}). */
  public static GroupMessage commit(byte[] bytes, String field) {
    GroupMessage g = groupMessage(bytes, field);
    if (!g.isCommit()) {
      throw invalid(field + ": expected a Commit, got " + g.contentTypeName());
    }
    return g;
  }

  /** Parses a Welcome; returns it (its recipients are {@link Welcome#newMembers()}). */
  public static Welcome welcome(byte[] bytes, String field) {
    MlsMessage m = decode(bytes, field);
    if (!(m instanceof Welcome w)) {
      throw invalid(field + ": expected a Welcome, got " + m.wireFormat().rfcName());
    }
    if (w.secrets().isEmpty()) {
      throw invalid(field + ": the Welcome names no new member");
    }
    return w;
  }

  /** Parses a GroupInfo for {@code convo}'s original group. */
  public static GroupInfo groupInfo(byte[] bytes, ConvoId convo, String field) {
    GroupInfo g = groupInfo(bytes, field);
    requireGroup(HexFormat.of().formatHex(g.groupId()), convo, field);
    return g;
  }

  /** Parses a GroupInfo of any group (the caller checks its group under the conversation's lock). */
  public static GroupInfo groupInfo(byte[] bytes, String field) {
    MlsMessage m = decode(bytes, field);
    if (!(m instanceof GroupInfo g)) {
      throw invalid(field + ": expected a GroupInfo, got " + m.wireFormat().rfcName());
    }
    return g;
  }

  private static MlsMessage decode(byte[] bytes, String field) {
    try {
      return MlsMessage.decode(bytes);
    } catch (MlsDecodeException e) {
      throw invalid(field + ": not a valid MLSMessage: " + e.getMessage());
    }
  }

  /** RFC 9420 §6: external senders only propose; new_member_commit only commits; new_member_proposal only adds. */
  private static void checkSender(PublicMessage p, String field) {
    Sender.Type t = p.sender().type();
    boolean ok = switch (t) {
      case MEMBER -> true;
      case EXTERNAL -> p.contentType() == ContentType.PROPOSAL;
      case NEW_MEMBER_COMMIT -> p.contentType() == ContentType.COMMIT;
      case NEW_MEMBER_PROPOSAL -> p.contentType() == ContentType.PROPOSAL && p.proposal() instanceof Proposal.Add;
    };
    if (!ok) {
      throw invalid(field + ": sender type " + t + " may not send " + p.contentType());
    }
  }

  private static void requireGroup(String actual, ConvoId convo, String field) {
    if (!actual.equals(convo.value())) {
      throw wrongGroup(actual, convo.value(), field);
    }
  }

  /** 400 {@code WrongGroup}: {@code field} is for group {@code actual}, not {@code expected}. */
  public static XrpcException wrongGroup(String actual, String expected, String field) {
    return new XrpcException(XrpcError.WrongGroup, field + " is for group " + abbreviate(actual) + ", not " + abbreviate(expected));
  }

  static XrpcException invalid(String message) {
    return new XrpcException(XrpcError.InvalidMlsMessage, message, Map.of());
  }

  private static String abbreviate(String hex) {
    return hex.length() > 16 ? hex.substring(0, 16) + "…" : hex;
  }

  static List<String> hex(List<byte[]> values) {
    return values.stream().map(HexFormat.of()::formatHex).toList();
  }
}
