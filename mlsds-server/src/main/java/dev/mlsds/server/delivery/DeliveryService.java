package dev.mlsds.server.delivery;

import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.Proposal;
import dev.mlsds.server.conversations.CommitPolicing;
import dev.mlsds.server.conversations.HandshakePolicy;
import dev.mlsds.server.conversations.RosterStore;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.conversations.ConvoStore;
import dev.mlsds.server.delivery.MessageStore.MessageView;
import dev.mlsds.server.keypackages.KeyPackageStore;
import dev.mlsds.server.limits.ResponseMemory;
import dev.mlsds.server.limits.StorageLimits;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * Messages and Welcome delivery (docs/api.md §5-§6).
 *
 * <p>sendMessage reads group id, epoch and content type from the MLS bytes; application messages and
 * proposals are accepted for epochs {@code current - window .. current}, Commits only through
 * {@link MessageLog#acceptCommit}. A member sees only the log after the Commit that added them.
 *
 * <p>getWelcome hands a device the Welcome routed to it by KeyPackageRef, and only while that KeyPackage
 * still exists for the caller (not deleted by a sync), so a device that published newer KeyPackages after
 * being added still gets the Welcome for the one it holds (the seed document's fix, done so it survives:
 * the KeyPackage is {@code used} at add time and {@code consumed} at first fetch, in that transaction).
 */
public final class DeliveryService {
  /** Commits returned by one getCommits call at most. */
  static final int MAX_COMMITS = 1000;

  private final Database db;
  private final ConvoStore convos;
  private final MessageStore messages;
  private final MessageLog log;
  private final WelcomeStore welcomes;
  private final KeyPackageStore keyPackages;
  private final ConvoEventLog events;
  private final Notifier notifier;
  private final Clock clock;
  private final Config.Limits limits;
  private final StorageLimits storage;
  private final ResponseMemory responseMemory;
  private final WelcomeMetrics welcomeMetrics;
  private CommitPolicing policing;

  public DeliveryService(Database db, ConvoStore convos, MessageStore messages, MessageLog log, WelcomeStore welcomes,
      KeyPackageStore keyPackages, ConvoEventLog events, Notifier notifier, Clock clock, Config.Limits limits,
      StorageLimits storage, MeterRegistry metrics) {
    this.db = db;
    this.convos = convos;
    this.messages = messages;
    this.log = log;
    this.welcomes = welcomes;
    this.keyPackages = keyPackages;
    this.events = events;
    this.notifier = notifier;
    this.clock = clock;
    this.limits = limits;
    this.storage = storage;
    this.responseMemory = new ResponseMemory(storage.responseMemoryBytes());
    this.welcomeMetrics = new WelcomeMetrics(metrics);
  }

  /** Commits and proposals are policed by {@code policing} (docs/conversations.md, "Policed membership"). */
  public DeliveryService policedBy(CommitPolicing policing) {
    this.policing = policing;
    return this;
  }

  public Delivery.SendMessage.Output sendMessage(Did caller, ConvoId id, byte[] ciphertext, String msgId, Long epoch) {
    if (ciphertext.length > limits.messageMaxBytes()) {
      throw new XrpcException(XrpcError.PayloadTooLarge, "message exceeds " + limits.messageMaxBytes() + " bytes");
    }
    MlsInput.GroupMessage msg = MlsInput.groupMessage(ciphertext, "ciphertext");
    if (epoch != null && epoch != msg.epoch()) {
      throw new XrpcException(XrpcError.InvalidMlsMessage,
          "epoch " + epoch + " does not match the message's own epoch " + msg.epoch());
    }
    long now = clock.millis();
    Delivery.SendMessage.Output out = db.inTransactionReplying(h -> {
      MessageView stored = sendInTransaction(h, caller, id, msg, msgId, now);
      return new Delivery.SendMessage.Output(stored.id(), stored.seq(), stored.epoch(), stored.createdAt());
    });
    notifier.convoChanged(id.value());
    return out;
  }

  private MessageView sendInTransaction(Handle h, Did caller, ConvoId id, MlsInput.GroupMessage msg, String msgId,
      long now) {
    ConvoStore.Convo convo = convos.lock(h, id);
    convos.requireCurrentGroup(h, convo, msg.groupId(), "ciphertext");
    convos.requireActiveMember(h, convo, caller);
    if (msgId != null) {
      Optional<MessageView> previous = messages.byMsgId(h, id, caller, msgId);
      if (previous.isPresent()) {
        return previous.get();
      }
    }
    if (msg.isCommit()) {
      if (convo.handshakePolicy() == HandshakePolicy.ANY && msg.proposalsFullyVisible()) {
        Set<Integer> types = msg.visibleProposalTypes();
        if (types.contains(Proposal.ADD) || types.contains(Proposal.REMOVE)) {
          throw XrpcException.invalidRequest("a commit that adds or removes members goes through addMembers/removeMember");
        }
      }
      MessageLog.requireCurrentEpoch(convo, msg.epoch(), "commit");
      CommitPolicing.Verdict verdict = policing.check(h, convo, caller, msg, CommitPolicing.Path.SEND_MESSAGE, Set.of(), null,
          null);
      MessageView accepted = log.acceptCommit(h, convo, caller, msg, now);
      policing.accepted(h, convo, caller, verdict);
      return accepted;
    }
    RosterStore.StoredProposal proposal = msg.contentType() == ContentType.PROPOSAL
        ? policing.checkProposal(h, convo, caller, msg) : null;
    long window = limits.applicationEpochWindow();
    if (msg.epoch() > convo.epoch()) {
      throw new XrpcException(XrpcError.FutureEpoch, "message is for epoch " + msg.epoch()
          + " but the conversation is at epoch " + convo.epoch(), Map.of("currentEpoch", convo.epoch()));
    }
    if (msg.epoch() < convo.epoch() - window) {
      throw MessageLog.stale(convo, "message is for epoch " + msg.epoch() + ", older than the accepted window of "
          + window + " epochs before " + convo.epoch());
    }
    MessageView appended = log.append(h, convo, caller, msg, msgId, now);
    policing.proposalAccepted(h, id, proposal);
    return appended;
  }

  // Pages are planned from the rows' sizes, then the bytes are reserved in the node-wide response memory
  // (which may wait) with no connection held, then the rows are loaded.
  public Delivery.GetMessages.Output getMessages(Did caller, ConvoId id, long sinceSeq, int limit) {
    return getMessages(caller, id, sinceSeq, null, limit);
  }

  /**
   * Paging by {@code sinceSeq}, ascending. {@code sinceMessage} (the 2025 parameter, a message id) means what
   * the 2025 server made it mean: the messages after that one; {@code cursor} is then the last id returned
   * while more follow. An id this conversation does not hold gives an empty page, as the 2025 server did.
   */
  public Delivery.GetMessages.Output getMessages(Did caller, ConvoId id, long sinceSeq, String sinceMessage, int limit) {
    MessageStore.Plan plan = db.withHandle(h -> {
      ConvoStore.Member me = convos.requireActiveMember(h, id, caller);
      long since = sinceSeq;
      if (sinceMessage != null) {
        Optional<Long> seq = messages.seqOf(h, id, sinceMessage);
        if (seq.isEmpty()) {
          return null;
        }
        since = Math.max(since, seq.get());
      }
      return messages.planPage(h, id, Math.max(since, me.joinedSeq()), limit, storage.pageMaxBytes());
    });
    if (plan == null) {
      return new Delivery.GetMessages.Output(List.of(), sinceSeq, false, null);
    }
    responseMemory.reserve(plan.bytes());
    List<MessageView> shown = plan.isEmpty() ? List.of() : db.withHandle(h -> messages.load(h, plan));
    long last = shown.isEmpty() ? plan.since() : shown.get(shown.size() - 1).seq();
    String cursor = plan.hasMore() && !shown.isEmpty() ? shown.get(shown.size() - 1).id() : null;
    return new Delivery.GetMessages.Output(shown, last, plan.hasMore(), cursor);
  }

  /** The cursor of the 2025 paging toward older messages: the prefix, then the oldest message id shown. */
  static final String OLDER = "older:";

  /**
   * The 2025 client's getMessages ({@code seedPaging}: it sends {@code limit} and no {@code sinceSeq}). As
   * the 2025 server: without {@code sinceMessage} the newest page, newest first; {@code sinceMessage} = a
   * message id gives the messages after that one (an unknown id, an empty page). The {@code cursor} this
   * server adds while older messages remain is {@code older:<id>}: given back as {@code sinceMessage}
   * (the client's "load more"), it gives the page before that message, newest first, so the client's own
   * paging shows the newest messages first and reaches every one. Any other request pages by
   * {@code sinceSeq}, ascending; {@code sinceMessage} there also means "after that message".
   */
  public Delivery.GetMessages.Output getMessages(Did caller, ConvoId id, long sinceSeq, String sinceMessage, int limit,
      boolean seedPaging) {
    boolean older = sinceMessage != null && sinceMessage.startsWith(OLDER);
    if (!seedPaging && !older) {
      return getMessages(caller, id, sinceSeq, sinceMessage, limit);
    }
    if (!older && sinceMessage != null) {
      return getMessages(caller, id, sinceSeq, sinceMessage, limit);
    }
    MessageStore.Plan plan = db.withHandle(h -> {
      ConvoStore.Member me = convos.requireActiveMember(h, id, caller);
      long before = Long.MAX_VALUE;
      if (older) {
        Optional<Long> seq = messages.seqOf(h, id, sinceMessage.substring(OLDER.length()));
        if (seq.isEmpty()) {
          return null;
        }
        before = seq.get();
      }
      return messages.planNewest(h, id, me.joinedSeq(), before, limit, storage.pageMaxBytes());
    });
    if (plan == null) {
      return new Delivery.GetMessages.Output(List.of(), sinceSeq, false, null);
    }
    responseMemory.reserve(plan.bytes());
    List<MessageView> shown = new ArrayList<>(plan.isEmpty() ? List.of() : db.withHandle(h -> messages.load(h, plan)));
    long last = shown.isEmpty() ? plan.since() : shown.get(shown.size() - 1).seq();
    String cursor = plan.hasMore() && !shown.isEmpty() ? OLDER + shown.get(0).id() : null;
    java.util.Collections.reverse(shown);
    return new Delivery.GetMessages.Output(shown, last, plan.hasMore(), cursor);
  }

  /**
   * Commits by the epoch they create, {@code fromEpoch..toEpoch}: the 2025 client asks for its local epoch + 1
   * and must get the Commit it needs next. The log stores the sent-in epoch, one less.
   */
  public Delivery.GetCommits.Output getCommits(Did caller, ConvoId id, long fromEpoch, Long toEpoch) {
    long fromSentIn = Math.max(0, fromEpoch - 1);
    long toSentIn = toEpoch == null ? Long.MAX_VALUE : toEpoch - 1;
    MessageStore.Plan plan = db.withHandle(h -> {
      ConvoStore.Member me = convos.requireActiveMember(h, id, caller);
      if (toSentIn < fromSentIn) {
        return null;
      }
      // Epochs are those of the current MLS group: after a reset, its commits follow the reset's (reset_seq).
      long resetSeq = convos.find(h, id).map(ConvoStore.Convo::resetSeq).orElse(0L);
      return messages.planCommits(h, id, fromSentIn, toSentIn, Math.max(me.joinedSeq(), resetSeq), MAX_COMMITS,
          storage.pageMaxBytes());
    });
    if (plan == null) {
      return new Delivery.GetCommits.Output(id.value(), List.of(), false);
    }
    responseMemory.reserve(plan.bytes());
    List<MessageView> rows = plan.isEmpty() ? List.of() : db.withHandle(h -> messages.load(h, plan));
    List<Delivery.GetCommits.CommitView> commits = rows.stream()
        .map(m -> new Delivery.GetCommits.CommitView(m.seq(), m.epoch() + 1, m.epoch(), m.sender(), m.ciphertext(), m.createdAt()))
        .toList();
    return new Delivery.GetCommits.Output(id.value(), commits, plan.hasMore());
  }

  public Delivery.GetWelcome.Output getWelcome(Did caller, ConvoId id, String deviceId) {
    long now = clock.millis();
    try {
      Delivery.GetWelcome.Output out = db.inTransaction(h -> {
        convos.requireActiveMember(h, id, caller);
        WelcomeStore.Delivery d = choose(h, id, caller, deviceId);
        switch (d.state()) {
          case "pending" -> {
            welcomes.markFetched(h, d, now);
            keyPackages.markConsumed(h, d.keyPackageRef(), now);
          }
          case "fetched" -> {
            if (now - d.firstFetchedAt() > limits.welcomeGrace().toMillis()) {
              throw consumed();
            }
          }
          case "consumed", "failed" -> throw consumed();
          default -> throw notFound();
        }
        return new Delivery.GetWelcome.Output(id.value(), Json.base64url(d.data()), d.keyPackageRef(), d.deviceId());
      });
      welcomeMetrics.delivered.increment();
      return out;
    } catch (XrpcException e) {
      if (e.error() == XrpcError.WelcomeNotFound) {
        welcomeMetrics.notFound.increment();
      } else if (e.error() == XrpcError.WelcomeConsumed) {
        welcomeMetrics.consumed.increment();
      }
      throw e;
    }
  }

  public Delivery.ConfirmWelcome.Output confirmWelcome(Did caller, ConvoId id, String deviceId, boolean success,
      String errorDetails) {
    long now = clock.millis();
    db.inTransaction(h -> {
      convos.lock(h, id);
      convos.requireActiveMember(h, id, caller);
      WelcomeStore.Delivery d = choose(h, id, caller, deviceId);
      switch (d.state()) {
        case "pending", "fetched" -> {
          if (success) {
            welcomes.markConsumed(h, d, now);
            keyPackages.markConsumed(h, d.keyPackageRef(), now);
          } else {
            welcomes.markFailed(h, d, now, errorDetails);
            events.append(h, id.value(), "readdRequestedEvent",
                Map.of("convoId", id.value(), "did", caller.value(), "deviceId", d.deviceId()), null, now);
          }
        }
        case "consumed" -> {
          if (!success) {
            throw consumed();
          }
        }
        case "failed" -> {
          if (success) {
            throw consumed();
          }
        }
        default -> throw notFound();
      }
      return null;
    });
    notifier.convoChanged(id.value());
    return new Delivery.ConfirmWelcome.Output(true);
  }

  /**
   * The caller's Welcome in this conversation: for {@code deviceId} if given; otherwise the caller must have
   * one device only (its KeyPackages name one device, all legacy uploads counting as one), since a caller
   * that names no device cannot be told apart from its other devices (security review M6: a 2025 client
   * fetched, or failed, another device's Welcome). Never another device's Welcome (docs/lessons.md). Only
   * Welcomes whose KeyPackage still exists for the caller qualify.
   */
  private WelcomeStore.Delivery choose(Handle h, ConvoId id, Did caller, String deviceId) {
    List<WelcomeStore.Delivery> all = welcomes.forRecipient(h, id, caller).stream()
        .filter(d -> deviceId == null || d.deviceId().equals(deviceId))
        .filter(d -> keyPackages.find(h, d.keyPackageRef()).filter(k -> k.did().equals(caller)).isPresent())
        .toList();
    if (all.isEmpty()) {
      throw notFound();
    }
    if (deviceId == null && keyPackages.deviceGroups(h, caller) > 1) {
      throw XrpcException.invalidRequest("the caller has several devices: pass deviceId");
    }
    List<WelcomeStore.Delivery> open = all.stream().filter(d -> d.state().equals("pending") || d.state().equals("fetched")).toList();
    if (deviceId == null && open.stream().map(WelcomeStore.Delivery::deviceId).distinct().count() > 1) {
      throw XrpcException.invalidRequest("several of the caller's devices have a Welcome here: pass deviceId");
    }
    return open.isEmpty() ? all.get(0) : open.get(0);
  }

  private static XrpcException notFound() {
    return new XrpcException(XrpcError.WelcomeNotFound, "no Welcome for this device in this conversation");
  }

  private static XrpcException consumed() {
    return new XrpcException(XrpcError.WelcomeConsumed, "this Welcome was already consumed");
  }

  /** Welcome retrieval outcomes (docs/api.md §8). */
  private static final class WelcomeMetrics {
    final io.micrometer.core.instrument.Counter delivered;
    final io.micrometer.core.instrument.Counter notFound;
    final io.micrometer.core.instrument.Counter consumed;

    WelcomeMetrics(MeterRegistry r) {
      delivered = io.micrometer.core.instrument.Counter.builder("mlsds.welcome.retrievals").tag("outcome", "delivered").register(r);
      notFound = io.micrometer.core.instrument.Counter.builder("mlsds.welcome.retrievals").tag("outcome", "not_found").register(r);
      consumed = io.micrometer.core.instrument.Counter.builder("mlsds.welcome.retrievals").tag("outcome", "consumed").register(r);
    }
  }
}
