package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.XrpcException;
import dev.mlsds.server.xrpc.XrpcInput;
import dev.mlsds.server.xrpc.XrpcRouter;

/** HTTP for roles, the add policy and commit reports: parse, call {@link Roles}, return its record. */
public final class IntegrityHandlers {
  private static final String NS = "blue.catbird.mls.";

  private IntegrityHandlers() {}

  public static void register(XrpcRouter router, Roles roles) {
    // POST /xrpc/blue.catbird.mls.promoteAdmin
    router.procedure(NS + "promoteAdmin", call -> roles.promote(call.caller(), ConvoHandlers.convoId(call.input()),
        target(call.input())));
    // POST /xrpc/blue.catbird.mls.demoteAdmin
    router.procedure(NS + "demoteAdmin", call -> roles.demote(call.caller(), ConvoHandlers.convoId(call.input()),
        target(call.input())));
    // POST /xrpc/blue.catbird.mls.updateConvoPolicy
    router.procedure(NS + "updateConvoPolicy", call -> roles.updatePolicy(call.caller(),
        ConvoHandlers.convoId(call.input()), call.input().optBool("adminOnlyAdds")
            .orElseThrow(() -> XrpcException.invalidRequest("missing required field 'adminOnlyAdds'"))));
    // POST /xrpc/blue.catbird.mls.reportUnprocessableCommit
    router.procedure(NS + "reportUnprocessableCommit", call -> {
      XrpcInput in = call.input();
      long seq = in.optLong("seq").filter(s -> s >= 1)
          .orElseThrow(() -> XrpcException.invalidRequest("'seq' must be the seq of a commit (>= 1)"));
      return roles.report(call.caller(), ConvoHandlers.convoId(in), seq, in.optString("reason", 0, 512).orElse(null));
    });
  }

  private static Did target(XrpcInput in) {
    return Did.parse(in.string("targetDid"), "targetDid");
  }
}
