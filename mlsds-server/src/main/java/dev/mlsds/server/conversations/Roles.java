package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Clock;
import java.util.List;

/**
 * Roles and the conversation's add policy (docs/conversations.md, "Roles"), and reports of unprocessable
 * commits. The creator is the first admin; admins promote and demote members and set {@code adminOnlyAdds};
 * the last admin cannot demote itself (leaving hands the role to the longest-standing member). Each method is
 * one transaction on the locked conversation.
 */
public final class Roles {
  public record ChangeRoleOutput(boolean success, String role) {}

  public record UpdatePolicyOutput(boolean success, boolean adminOnlyAdds) {}

  public record ReportOutput(boolean success, long seq, long epoch, Did senderDid, int reportCount) {}

  private final Database db;
  private final ConvoStore convos;
  private final RosterStore rosters;
  private final Notifier notifier;
  private final Clock clock;

  public Roles(Database db, ConvoStore convos, RosterStore rosters, Notifier notifier, Clock clock) {
    this.db = db;
    this.convos = convos;
    this.rosters = rosters;
    this.notifier = notifier;
    this.clock = clock;
  }

  public ChangeRoleOutput promote(Did caller, ConvoId id, Did target) {
    db.inTransaction(h -> {
      convos.lock(h, id);
      requireAdmin(h, id, caller);
      convos.member(h, id, target).filter(ConvoStore.Member::active)
          .orElseThrow(() -> XrpcException.invalidRequest("targetDid is not an active member of this conversation"));
      convos.promote(h, id, target);
      return null;
    });
    notifier.convoChanged(id.value());
    return new ChangeRoleOutput(true, "admin");
  }

  public ChangeRoleOutput demote(Did caller, ConvoId id, Did target) {
    db.inTransaction(h -> {
      convos.lock(h, id);
      requireAdmin(h, id, caller);
      ConvoStore.Member t = convos.member(h, id, target).filter(ConvoStore.Member::active)
          .orElseThrow(() -> XrpcException.invalidRequest("targetDid is not an active member of this conversation"));
      if (t.isAdmin()) {
        List<ConvoStore.Member> active = convos.activeMembers(h, List.of(id.value()));
        if (active.stream().filter(ConvoStore.Member::isAdmin).count() == 1) {
          throw XrpcException.invalidRequest("targetDid is the last admin: promote another member first");
        }
        convos.demote(h, id, target);
      }
      return null;
    });
    notifier.convoChanged(id.value());
    return new ChangeRoleOutput(true, "member");
  }

  public UpdatePolicyOutput updatePolicy(Did caller, ConvoId id, boolean adminOnlyAdds) {
    db.inTransaction(h -> {
      convos.lock(h, id);
      requireAdmin(h, id, caller);
      convos.setAdminOnlyAdds(h, id, adminOnlyAdds);
      return null;
    });
    notifier.convoChanged(id.value());
    return new UpdatePolicyOutput(true, adminOnlyAdds);
  }

  /**
   * A member reports that it cannot process the commit at {@code seq}: recorded once per reporter; the answer
   * names who sent that commit and how many members reported it, so an admin can remove the offender or reset.
   */
  public ReportOutput report(Did caller, ConvoId id, long seq, String reason) {
    long now = clock.millis();
    return db.inTransaction(h -> {
      convos.lock(h, id);
      ConvoStore.Member me = convos.requireActiveMember(h, id, caller);
      CommitRow commit = h.createQuery("""
          SELECT seq, epoch, sender_did FROM messages WHERE convo_id = :convo AND seq = :seq AND content_type = 'commit'""")
          .bind("convo", id.value()).bind("seq", seq)
          .map((rs, ctx) -> new CommitRow(rs.getLong("seq"), rs.getLong("epoch"), new Did(rs.getString("sender_did"))))
          .findFirst()
          .filter(c -> c.seq() > me.joinedSeq())
          .orElseThrow(() -> new XrpcException(XrpcError.NotFound, "no commit with seq " + seq + " visible to the caller"));
      rosters.insertReport(h, id, seq, caller, reason, now);
      return new ReportOutput(true, commit.seq(), commit.epoch(), commit.sender(), rosters.reports(h, id, seq).size());
    });
  }

  private record CommitRow(long seq, long epoch, Did sender) {}

  private void requireAdmin(org.jdbi.v3.core.Handle h, ConvoId id, Did caller) {
    if (!convos.requireActiveMember(h, id, caller).isAdmin()) {
      throw new XrpcException(XrpcError.NotAdmin, "only admins may change roles or the conversation's policy");
    }
  }
}
