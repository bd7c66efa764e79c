package dev.mlsds.server.conversations;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.Conversations.AddMembers;
import dev.mlsds.server.conversations.Conversations.CreateConvo;
import dev.mlsds.server.conversations.Conversations.Metadata;
import dev.mlsds.server.conversations.Conversations.RemoveMember;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcInput;
import dev.mlsds.server.xrpc.XrpcRouter;
import java.util.List;

/** HTTP for the conversation methods: parse, call {@link ConvoService}, return its record. */
public final class ConvoHandlers {
  private static final String NS = "blue.catbird.mls.";

  private ConvoHandlers() {}

  public static void register(XrpcRouter router, ConvoService service, int maxMembers) {
    // POST /xrpc/blue.catbird.mls.createConvo
    router.procedure(NS + "createConvo", call -> {
      XrpcInput in = call.input();
      var input = new CreateConvo.Input(ConvoId.parse(in.string("groupId"), "groupId"), suite(in.string("cipherSuite")),
          metadata(in), in.optList("initialMembers", 0, maxMembers, n -> did(n, "initialMembers")).orElse(List.of()),
          in.optBytes("commit").orElse(null), welcome(in).orElse(null), in.optBytes("groupInfo").orElse(null),
          in.optString("handshakePolicy", 1, 16).map(p -> HandshakePolicy.parse(p, "handshakePolicy")).orElse(null),
          in.optBool("adminOnlyAdds").orElse(null));
      return service.createConvo(call.caller(), input);
    });
    // POST /xrpc/blue.catbird.mls.addMembers
    router.procedure(NS + "addMembers", call -> {
      XrpcInput in = call.input();
      var input = new AddMembers.Input(convoId(in), in.list("didList", 1, 100, n -> did(n, "didList")),
          in.bytes("commit"), welcome(in).orElseThrow(() -> XrpcException.invalidRequest("missing required field 'welcome'")),
          in.optBytes("groupInfo").orElse(null));
      return service.addMembers(call.caller(), input);
    });
    // POST /xrpc/blue.catbird.mls.removeMember
    router.procedure(NS + "removeMember", call -> {
      XrpcInput in = call.input();
      var input = new RemoveMember.Input(convoId(in), Did.parse(in.string("targetDid"), "targetDid"),
          in.bytes("commit"), in.optBytes("groupInfo").orElse(null));
      return service.removeMember(call.caller(), input);
    });
    // POST /xrpc/blue.catbird.mls.leaveConvo
    router.procedure(NS + "leaveConvo", call -> {
      XrpcInput in = call.input();
      var input = new Conversations.LeaveConvo.Input(convoId(in),
          in.optString("targetDid").map(d -> Did.parse(d, "targetDid")).orElse(null), in.optBytes("commit").orElse(null));
      return service.leaveConvo(call.caller(), input);
    });
    // POST /xrpc/blue.catbird.mls.resetGroup
    router.procedure(NS + "resetGroup", call -> {
      XrpcInput in = call.input();
      long fromEpoch = in.optLong("fromEpoch").filter(e -> e >= 0)
          .orElseThrow(() -> XrpcException.invalidRequest("'fromEpoch' must be the current epoch of the group being reset"));
      var input = new Conversations.ResetGroup.Input(convoId(in),
          ConvoId.parse(in.string("fromGroupId"), "fromGroupId").value(), fromEpoch,
          ConvoId.parse(in.string("groupId"), "groupId"), in.list("didList", 1, maxMembers, n -> did(n, "didList")),
          in.bytes("commit"), welcome(in).orElseThrow(() -> XrpcException.invalidRequest("missing required field 'welcome'")),
          in.optBytes("groupInfo").orElse(null), in.optString("reason", 0, 512).orElse(null));
      return service.resetGroup(call.caller(), input);
    });
    // GET /xrpc/blue.catbird.mls.getConvos
    router.query(NS + "getConvos", call -> service.getConvos(call.caller(),
        (int) call.params().integer("limit", 1, 100, 50), call.params().opt("cursor").orElse(null)));
    // GET /xrpc/blue.catbird.mls.getEpoch
    router.query(NS + "getEpoch", call ->
        service.getEpoch(call.caller(), ConvoId.parse(call.params().required("convoId"), "convoId")));
    // GET /xrpc/blue.catbird.mls.getGroupInfo
    router.query(NS + "getGroupInfo", call ->
        service.getGroupInfo(call.caller(), ConvoId.parse(call.params().required("convoId"), "convoId")));
    // POST /xrpc/blue.catbird.mls.updateGroupInfo
    router.procedure(NS + "updateGroupInfo", call ->
        service.updateGroupInfo(call.caller(), convoId(call.input()), call.input().bytes("groupInfo")));
    // POST /xrpc/blue.catbird.mls.processExternalCommit
    router.procedure(NS + "processExternalCommit", call -> service.processExternalCommit(call.caller(),
        convoId(call.input()), call.input().bytes("commit"), call.input().optBytes("groupInfo").orElse(null)));
  }

  /** {@code welcome}, or its 2025-lexicon name {@code welcomeMessage} (compatibility, docs/api.md §1). */
  static java.util.Optional<byte[]> welcome(XrpcInput in) {
    return in.optBytes("welcome").or(() -> in.optBytes("welcomeMessage"));
  }

  static ConvoId convoId(XrpcInput in) {
    return ConvoId.parse(in.string("convoId"), "convoId");
  }

  static Did did(com.fasterxml.jackson.databind.JsonNode n, String field) {
    return Did.parse(XrpcInput.textElement(n, field), field);
  }

  static int suite(String text) {
    return CipherSuite.parse(text).map(CipherSuite::id).orElseThrow(() ->
        new XrpcException(XrpcError.InvalidCipherSuite, "unknown or disallowed cipher suite: " + text));
  }

  static Metadata metadata(XrpcInput in) {
    return in.optObject("metadata").map(m -> new Metadata(m.optString("name", 0, 128).orElse(null),
        m.optString("description", 0, 512).orElse(null))).orElse(null);
  }
}
