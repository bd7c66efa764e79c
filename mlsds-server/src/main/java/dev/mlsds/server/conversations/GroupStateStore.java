package dev.mlsds.server.conversations;

import dev.mlsds.codec.PublicGroupState;
import java.util.HexFormat;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * SQL for {@code convo_group_states}: one {@link PublicGroupState} per conversation under the {@code public}
 * handshake policy, for its current group and epoch. Callers hold the conversation's row lock for every write,
 * and write it in the transaction that accepts the commit that made the epoch.
 */
public final class GroupStateStore {
  private static final String LOAD = "SELECT group_id, epoch, state FROM convo_group_states WHERE convo_id = :convo";

  /**
   * The stored state if it describes {@code groupId} (lowercase hex) at {@code epoch}; empty if there is none or
   * it is for another group or epoch.
   */
  public Optional<PublicGroupState> load(Handle h, ConvoId convo, String groupId, long epoch) {
    return h.createQuery(LOAD).bind("convo", convo.value())
        .map((rs, ctx) -> new Row(rs.getString("group_id"), rs.getLong("epoch"), rs.getBytes("state")))
        .findFirst()
        .filter(r -> r.groupId().equals(groupId) && r.epoch() == epoch)
        .map(r -> PublicGroupState.decode(r.state()));
  }

  private record Row(String groupId, long epoch, byte[] state) {}

  /** Whether any state is stored for the conversation (whatever its group and epoch). */
  public boolean exists(Handle h, ConvoId convo) {
    return h.createQuery("SELECT 1 FROM convo_group_states WHERE convo_id = :convo").bind("convo", convo.value())
        .mapTo(Integer.class).findFirst().isPresent();
  }

  private static final String DELETE = "DELETE FROM convo_group_states WHERE convo_id = :convo";
  private static final String INSERT = """
      INSERT INTO convo_group_states (convo_id, group_id, epoch, state) VALUES (:convo, :group, :epoch, :state)""";

  public void save(Handle h, ConvoId convo, PublicGroupState state) {
    delete(h, convo);
    h.createUpdate(INSERT).bind("convo", convo.value())
        .bind("group", HexFormat.of().formatHex(state.context().groupId())).bind("epoch", state.epoch())
        .bind("state", state.encode()).execute();
  }

  public void delete(Handle h, ConvoId convo) {
    h.createUpdate(DELETE).bind("convo", convo.value()).execute();
  }
}
