package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.conversations.ConvoStore;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The rules for opening a stream (docs/api.md §7), checked before any byte of the stream is sent so that a
 * refusal is a normal XRPC error: a conversation stream needs an active member (404 {@code ConvoNotFound},
 * 403 {@code NotMember}); a cursor must be one this kind of stream hands out and not ahead of the logs it
 * names (400 {@code InvalidRequest}); one DID may have at most {@code streamsPerDid} streams open on a node
 * (429 {@code RateLimitExceeded}).
 */
final class StreamService {
  private final StreamHub hub;
  private final ConvoStore convos;

  StreamService(StreamHub hub, ConvoStore convos) {
    this.hub = hub;
    this.convos = convos;
  }

  /** A stream for {@code caller}, ready to {@link Subscription#run}. */
  Subscription open(Did caller, Optional<String> convoParam, Optional<String> cursor, RealtimeMetrics.Transport t) {
    // Per node; concurrent opens may pass the check together, so the bound is the cap plus those in flight.
    if (hub.openStreams(caller) >= hub.settings().streamsPerDid()) {
      throw new XrpcException(XrpcError.RateLimitExceeded, "too many open streams for this account on this node "
          + "(at most " + hub.settings().streamsPerDid() + "); close one first", Map.of(), 5);
    }
    if (convoParam.isEmpty()) {
      StreamCursors.Tracker tracker = cursor.map(c -> hub.cursors().resume(caller, c)).orElseGet(() -> hub.cursors().fresh(caller));
      Map<String, LogPosition> heads = hub.db().withHandle(h -> hub.store().heads(h, tracker.resumeAt().keySet()));
      tracker.resumeAt().forEach((convo, at) -> {
        if (at.isAfter(heads.getOrDefault(convo, at))) {
          throw XrpcException.invalidRequest("cursor is ahead of the log of conversation " + convo);
        }
      });
      return Subscription.ofAll(hub, caller, tracker, t);
    }
    ConvoId convo = ConvoId.parse(convoParam.get(), "convoId");
    LogPosition from = cursor.map(StreamCursors::parseInConvo).orElse(null);
    LogPosition head = hub.db().withHandle(h -> {
      convos.requireActiveMember(h, convo, caller);
      return hub.store().heads(h, List.of(convo.value())).getOrDefault(convo.value(), LogPosition.START);
    });
    if (from != null && from.isAfter(head)) {
      throw XrpcException.invalidRequest("cursor " + from + " is ahead of the conversation's log (at " + head + ")");
    }
    return Subscription.ofConvo(hub, caller, convo.value(), from, t);
  }
}
