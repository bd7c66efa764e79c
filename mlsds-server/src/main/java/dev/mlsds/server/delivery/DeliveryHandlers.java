package dev.mlsds.server.delivery;

import dev.mlsds.server.conversations.ConvoId;
import dev.mlsds.server.xrpc.XrpcRouter;

/** HTTP for the message and Welcome methods: parse, call {@link DeliveryService}, return its record. */
public final class DeliveryHandlers {
  private static final String NS = "blue.catbird.mls.";

  private DeliveryHandlers() {}

  public static void register(XrpcRouter router, DeliveryService service, long messageMaxBytes) {
    // POST /xrpc/blue.catbird.mls.sendMessage (base64 inflates by 4/3; the decoded size is checked again)
    router.procedure(NS + "sendMessage", messageMaxBytes / 3 * 4 + 64 * 1024, call -> service.sendMessage(
        call.caller(), convoId(call.input().string("convoId")), call.input().bytes("ciphertext"),
        call.input().optString("msgId", 1, 64).orElse(null), call.input().optLong("epoch").orElse(null)));
    // GET /xrpc/blue.catbird.mls.getMessages
    // A limit of at most 100 without sinceSeq is the 2025 client's request: its paging (DeliveryService).
    router.query(NS + "getMessages", call -> service.getMessages(call.caller(),
        convoId(call.params().required("convoId")), call.params().integer("sinceSeq", 0, Long.MAX_VALUE, 0),
        call.params().opt("sinceMessage").orElse(null), (int) call.params().integer("limit", 1, 500, 100),
        call.params().opt("sinceSeq").isEmpty() && call.params().opt("limit").isPresent()
            && call.params().integer("limit", 1, 500, 100) <= 100));
    // GET /xrpc/blue.catbird.mls.getCommits
    router.query(NS + "getCommits", call -> service.getCommits(call.caller(),
        convoId(call.params().required("convoId")), call.params().requiredInteger("fromEpoch", 0, Long.MAX_VALUE),
        call.params().optInteger("toEpoch", 0, Long.MAX_VALUE).orElse(null)));
    // GET /xrpc/blue.catbird.mls.getWelcome
    router.query(NS + "getWelcome", call -> service.getWelcome(call.caller(),
        convoId(call.params().required("convoId")), call.params().opt("deviceId").orElse(null)));
    // POST /xrpc/blue.catbird.mls.confirmWelcome
    router.procedure(NS + "confirmWelcome", call -> service.confirmWelcome(call.caller(),
        convoId(call.input().string("convoId")), call.input().optString("deviceId").orElse(null),
        call.input().bool("success"), call.input().optString("errorDetails", 0, 1024).orElse(null)));
  }

  private static ConvoId convoId(String s) {
    return ConvoId.parse(s, "convoId");
  }
}
