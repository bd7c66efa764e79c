package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.jdbi.v3.core.Handle;

/**
 * SQL for the group-integrity tables: {@code convo_leaves} (the leaf roster), {@code convo_proposals}
 * (PublicMessage proposals a commit may reference) and {@code commit_reports}. Callers hold the
 * conversation's row lock for every write.
 */
public final class RosterStore {
  /** A stored proposal: the whole PublicMessage it came in, and who sent it from which leaf. */
  public record StoredProposal(String ref, long epoch, Did sender, long senderLeaf, byte[] message) {}

  /** One report of an unprocessable commit. */
  public record Report(long seq, Did reporter, String reason, long createdAt) {}

  public LeafRoster load(Handle h, ConvoId convo) {
    Map<Long, LeafRoster.Leaf> leaves = new HashMap<>();
    h.createQuery("SELECT leaf_index, did, signature_key FROM convo_leaves WHERE convo_id = :convo")
        .bind("convo", convo.value())
        .map((rs, ctx) -> Map.entry(rs.getLong("leaf_index"),
            new LeafRoster.Leaf(new Did(rs.getString("did")), rs.getBytes("signature_key"))))
        .forEach(e -> leaves.put(e.getKey(), e.getValue()));
    return LeafRoster.of(leaves);
  }

  /** Writes the rows that differ between {@code before} and {@code after}. */
  public void save(Handle h, ConvoId convo, LeafRoster before, LeafRoster after) {
    TreeSet<Long> indices = new TreeSet<>(before.leaves().keySet());
    indices.addAll(after.leaves().keySet());
    for (long i : indices) {
      LeafRoster.Leaf was = before.leaves().get(i);
      LeafRoster.Leaf now = after.leaves().get(i);
      if (same(was, now)) {
        continue;
      }
      if (was != null) {
        h.createUpdate("DELETE FROM convo_leaves WHERE convo_id = :convo AND leaf_index = :i")
            .bind("convo", convo.value()).bind("i", i).execute();
      }
      if (now != null) {
        h.createUpdate("""
            INSERT INTO convo_leaves (convo_id, leaf_index, did, signature_key) VALUES (:convo, :i, :did, :key)""")
            .bind("convo", convo.value()).bind("i", i).bind("did", now.did().value()).bind("key", now.signatureKey())
            .execute();
      }
    }
  }

  /** Replaces the whole roster (a new group after a reset). */
  public void replaceAll(Handle h, ConvoId convo, LeafRoster roster) {
    h.createUpdate("DELETE FROM convo_leaves WHERE convo_id = :convo").bind("convo", convo.value()).execute();
    save(h, convo, LeafRoster.of(Map.of()), roster);
  }

  private static boolean same(LeafRoster.Leaf a, LeafRoster.Leaf b) {
    if (a == null || b == null) {
      return a == b;
    }
    return a.did().equals(b.did()) && Arrays.equals(a.signatureKey(), b.signatureKey());
  }

  public void insertProposal(Handle h, ConvoId convo, StoredProposal p) {
    h.createUpdate("""
        INSERT INTO convo_proposals (convo_id, ref, epoch, sender_did, sender_leaf, proposal)
        VALUES (:convo, :ref, :epoch, :sender, :leaf, :data) ON CONFLICT (convo_id, ref) DO NOTHING""")
        .bind("convo", convo.value()).bind("ref", p.ref()).bind("epoch", p.epoch()).bind("sender", p.sender().value())
        .bind("leaf", p.senderLeaf()).bind("data", p.message()).execute();
  }

  public Optional<StoredProposal> proposal(Handle h, ConvoId convo, String ref) {
    return h.createQuery("""
        SELECT ref, epoch, sender_did, sender_leaf, proposal FROM convo_proposals WHERE convo_id = :convo AND ref = :ref""")
        .bind("convo", convo.value()).bind("ref", ref)
        .map((rs, ctx) -> new StoredProposal(rs.getString("ref"), rs.getLong("epoch"), new Did(rs.getString("sender_did")),
            rs.getLong("sender_leaf"), rs.getBytes("proposal")))
        .findFirst();
  }

  /** Proposals are only valid in their epoch: drop those of epochs before {@code epoch}. */
  public void purgeProposalsBefore(Handle h, ConvoId convo, long epoch) {
    h.createUpdate("DELETE FROM convo_proposals WHERE convo_id = :convo AND epoch < :epoch")
        .bind("convo", convo.value()).bind("epoch", epoch).execute();
  }

  public void purgeProposals(Handle h, ConvoId convo) {
    h.createUpdate("DELETE FROM convo_proposals WHERE convo_id = :convo").bind("convo", convo.value()).execute();
  }

  /** Records a report; false if this reporter already reported this commit. */
  public boolean insertReport(Handle h, ConvoId convo, long seq, Did reporter, String reason, long now) {
    return h.createUpdate("""
        INSERT INTO commit_reports (convo_id, seq, reporter_did, reason, created_at)
        VALUES (:convo, :seq, :reporter, :reason, :now) ON CONFLICT (convo_id, seq, reporter_did) DO NOTHING""")
        .bind("convo", convo.value()).bind("seq", seq).bind("reporter", reporter.value()).bind("reason", reason)
        .bind("now", now).execute() == 1;
  }

  public List<Report> reports(Handle h, ConvoId convo, long seq) {
    return h.createQuery("""
        SELECT seq, reporter_did, reason, created_at FROM commit_reports WHERE convo_id = :convo AND seq = :seq
        ORDER BY created_at, reporter_did""")
        .bind("convo", convo.value()).bind("seq", seq)
        .map((rs, ctx) -> new Report(rs.getLong("seq"), new Did(rs.getString("reporter_did")), rs.getString("reason"),
            rs.getLong("created_at")))
        .list();
  }
}
