package dev.mlsds.server.delivery;

import dev.mlsds.server.auth.Did;
import java.util.Collection;
import java.util.List;
import org.jdbi.v3.core.Handle;

/**
 * SQL for {@code welcomes}: one Welcome delivery per referenced device (API.md §6).
 *
 * <p>States: {@code pending} → {@code fetched} (first fetch; the KeyPackage becomes consumed in the same
 * transaction) → {@code consumed} (confirmed, or grace period over) | {@code failed} (device reported it
 * could not process it); {@code unusable} when a sync deleted its KeyPackage, {@code cancelled} when the
 * member was removed. Only {@code pending} and {@code fetched} Welcomes can be fetched.
 */
public final class WelcomeStore {
  /** A Welcome that stopped being deliverable, for the re-add request it triggers. */
  public record Invalidated(String convoId, Did did, String deviceId, String keyPackageRef) {}

  private static final String FIND_OPEN_BY_REFS = """
      SELECT convo_id, did, device_id, key_package_ref FROM welcomes
      WHERE key_package_ref IN (<refs>) AND state IN ('pending', 'fetched')
      ORDER BY convo_id, key_package_ref""";
  private static final String MARK_UNUSABLE = """
      UPDATE welcomes SET state = 'unusable'
      WHERE key_package_ref IN (<refs>) AND state IN ('pending', 'fetched')""";

  /**
   * Marks every open Welcome that names one of {@code refs} as {@code unusable} (its KeyPackage was
   * deleted) and returns them.
   */
  public List<Invalidated> markUnusable(Handle h, Collection<String> refs) {
    if (refs.isEmpty()) {
      return List.of();
    }
    List<Invalidated> found = h.createQuery(FIND_OPEN_BY_REFS).bindList("refs", List.copyOf(refs))
        .map((rs, ctx) -> new Invalidated(rs.getString("convo_id"), new Did(rs.getString("did")),
            rs.getString("device_id"), rs.getString("key_package_ref")))
        .list();
    h.createUpdate(MARK_UNUSABLE).bindList("refs", List.copyOf(refs)).execute();
    return found;
  }
}
