package dev.mlsds.server.delivery;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.conversations.ConvoStore;
import dev.mlsds.server.delivery.MessageStore.MessageView;
import dev.mlsds.server.limits.Quotas;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * Appends to a conversation's log, and is the one place where a Commit is accepted.
 *
 * <p>Invariants (with the caller holding the conversation's row lock, see {@link ConvoStore#lock}):
 * seq is allocated in the inserting transaction, so it is gap-free and in commit order; a Commit is
 * accepted only when its parsed epoch equals the conversation's epoch, and acceptance moves the epoch by
 * one with a compare-and-set in the same transaction — of several Commits for one epoch exactly one wins,
 * on any node. A Commit is then a message in the log like any other, so it is delivered like any other.
 */
public final class MessageLog {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final ConvoStore convos;
  private final MessageStore messages;
  private final Quotas quotas;

  /** A log whose senders have the default quotas. */
  public MessageLog(ConvoStore convos, MessageStore messages) {
    this(convos, messages, new Quotas(StorageLimits.defaults()));
  }

  public MessageLog(ConvoStore convos, MessageStore messages, Quotas quotas) {
    this.convos = convos;
    this.messages = messages;
    this.quotas = quotas;
  }

  /** Appends {@code msg} to the locked conversation and returns what was stored (counted in the sender's quota). */
  public MessageView append(Handle h, ConvoStore.Convo convo, Did sender, MlsInput.GroupMessage msg, String msgId, long now) {
    ConvoId id = new ConvoId(convo.id());
    quotas.charge(h, sender, msg.raw().length, 1);
    long seq = convos.nextSeq(h, id, now);
    String messageId = newMessageId();
    messages.insert(h, id, seq, messageId, sender, msg.epoch(), msg.contentTypeName(), msg.raw(), msgId, now);
    return new MessageView(messageId, convo.id(), seq, msg.epoch(), msg.contentTypeName(), sender, msg.raw(),
        Instant.ofEpochMilli(now));
  }

  /**
   * Accepts {@code commit} for the locked conversation: epoch check, compare-and-set to epoch + 1, then
   * append. A commit for an older epoch is 409 {@code StaleEpoch} with {@code currentEpoch} and
   * {@code latestSeq}, so the client can fetch the winning commit; a newer one is 409 {@code FutureEpoch}.
   */
  public MessageView acceptCommit(Handle h, ConvoStore.Convo convo, Did sender, MlsInput.GroupMessage commit, long now) {
    requireCurrentEpoch(convo, commit.epoch(), "commit");
    if (!convos.advanceEpoch(h, new ConvoId(convo.id()), convo.epoch())) {
      // Unreachable while the row lock is held; kept as the database-level guarantee.
      throw stale(convo, "another commit for this epoch was accepted first");
    }
    return append(h, convo, sender, commit, null, now);
  }

  /** A message for exactly the current epoch: older is StaleEpoch, newer is FutureEpoch. */
  public static void requireCurrentEpoch(ConvoStore.Convo convo, long epoch, String what) {
    if (epoch < convo.epoch()) {
      throw stale(convo, what + " is for epoch " + epoch + " but the conversation is at epoch " + convo.epoch());
    }
    if (epoch > convo.epoch()) {
      throw new XrpcException(XrpcError.FutureEpoch, what + " is for epoch " + epoch
          + " but the conversation is at epoch " + convo.epoch(), Map.of("currentEpoch", convo.epoch()));
    }
  }

  public static XrpcException stale(ConvoStore.Convo convo, String message) {
    return new XrpcException(XrpcError.StaleEpoch, message,
        Map.of("currentEpoch", convo.epoch(), "latestSeq", convo.latestSeq()));
  }

  private static String newMessageId() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
