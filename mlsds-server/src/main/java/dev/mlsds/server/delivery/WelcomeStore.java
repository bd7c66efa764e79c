package dev.mlsds.server.delivery;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.ConvoId;
import java.security.SecureRandom;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import org.jdbi.v3.core.Handle;

/**
 * SQL for {@code welcomes}: one Welcome delivery per referenced device (docs/api.md §6).
 *
 * <p>States: {@code pending} → {@code fetched} (first fetch; the KeyPackage becomes consumed in the same
 * transaction) → {@code consumed} (confirmed) | {@code failed} (the device reported it could not process
 * it); {@code unusable} when a sync deleted its KeyPackage, {@code cancelled} when the member was removed.
 * Only {@code pending} and {@code fetched} Welcomes can be fetched, and a fetched one only within the grace
 * period.
 */
public final class WelcomeStore {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A Welcome that stopped being deliverable, for the re-add request it triggers. */
  public record Invalidated(String convoId, Did did, String deviceId, String keyPackageRef) {}

  /** One stored Welcome delivery. */
  public record Delivery(String convoId, String keyPackageRef, Did did, String deviceId, byte[] data, String state,
      long createdAt, Long firstFetchedAt) {}

  private static final String COLUMNS =
      "w.convo_id, w.key_package_ref, w.did, w.device_id, b.data, w.state, w.created_at, w.first_fetched_at";
  private static final String INSERT_BLOB = """
      INSERT INTO welcome_blobs (id, convo_id, sender_did, data, created_at) VALUES (:id, :convo, :sender, :data, :now)""";
  private static final String INSERT = """
      INSERT INTO welcomes (convo_id, key_package_ref, did, device_id, blob_id, state, created_at)
      VALUES (:convo, :ref, :did, :device, :blob, 'pending', :now)
      ON CONFLICT (convo_id, key_package_ref) DO UPDATE SET did = :did, device_id = :device, blob_id = :blob,
        state = 'pending', created_at = :now, first_fetched_at = NULL, confirmed_at = NULL, error_details = NULL""";
  private static final String FOR_RECIPIENT = """
      SELECT %s FROM welcomes w JOIN welcome_blobs b ON b.id = w.blob_id
      WHERE w.convo_id = :convo AND w.did = :did ORDER BY w.created_at DESC, w.key_package_ref"""
      .formatted(COLUMNS);
  private static final String SET_STATE = """
      UPDATE welcomes SET state = :state, first_fetched_at = COALESCE(first_fetched_at, :fetchedAt),
        confirmed_at = :confirmedAt, error_details = :details
      WHERE convo_id = :convo AND key_package_ref = :ref""";
  private static final String CANCEL_FOR = """
      UPDATE welcomes SET state = 'cancelled' WHERE convo_id = :convo AND did = :did AND state IN ('pending', 'fetched')""";
  private static final String FIND_OPEN_BY_REFS = """
      SELECT convo_id, did, device_id, key_package_ref FROM welcomes
      WHERE key_package_ref IN (<refs>) AND state IN ('pending', 'fetched')
      ORDER BY convo_id, key_package_ref""";
  private static final String OPEN_CONVOS_BY_REFS = """
      SELECT DISTINCT convo_id FROM welcomes WHERE key_package_ref IN (<refs>) AND state IN ('pending', 'fetched')
      ORDER BY convo_id""";
  private static final String MARK_UNUSABLE = """
      UPDATE welcomes SET state = 'unusable'
      WHERE key_package_ref IN (<refs>) AND state IN ('pending', 'fetched')""";
  private static final String EXPIRE_GRACE = """
      UPDATE welcomes SET state = 'consumed' WHERE state = 'fetched' AND first_fetched_at < :before""";

  /** Stores a Welcome message once, as sent by {@code sender}; returns its id for {@link #insert}. */
  public String insertBlob(Handle h, ConvoId convo, Did sender, byte[] data, long now) {
    byte[] id = new byte[16];
    RANDOM.nextBytes(id);
    String blobId = HexFormat.of().formatHex(id);
    h.createUpdate(INSERT_BLOB).bind("id", blobId).bind("convo", convo.value()).bind("sender", sender.value())
        .bind("data", data).bind("now", now).execute();
    return blobId;
  }

  /** A delivery of the Welcome {@code blobId} to one device (replacing an earlier one for the same KeyPackage). */
  public void insert(Handle h, ConvoId convo, String ref, Did did, String deviceId, String blobId, long now) {
    h.createUpdate(INSERT).bind("convo", convo.value()).bind("ref", ref).bind("did", did.value())
        .bind("device", deviceId).bind("blob", blobId).bind("now", now).execute();
  }

  /** Every Welcome delivery of {@code did} in {@code convo}, newest first. */
  public List<Delivery> forRecipient(Handle h, ConvoId convo, Did did) {
    return h.createQuery(FOR_RECIPIENT).bind("convo", convo.value()).bind("did", did.value())
        .map((rs, ctx) -> {
          long f = rs.getLong("first_fetched_at");
          Long fetched = rs.wasNull() ? null : f;
          return new Delivery(rs.getString("convo_id"), rs.getString("key_package_ref"), new Did(rs.getString("did")),
              rs.getString("device_id"), rs.getBytes("data"), rs.getString("state"), rs.getLong("created_at"), fetched);
        }).list();
  }

  public void markFetched(Handle h, Delivery d, long now) {
    setState(h, d, "fetched", now, null, null);
  }

  public void markConsumed(Handle h, Delivery d, long now) {
    setState(h, d, "consumed", now, now, null);
  }

  public void markFailed(Handle h, Delivery d, long now, String details) {
    setState(h, d, "failed", now, now, details);
  }

  private void setState(Handle h, Delivery d, String state, Long fetchedAt, Long confirmedAt, String details) {
    h.createUpdate(SET_STATE).bind("state", state).bind("fetchedAt", fetchedAt).bind("confirmedAt", confirmedAt)
        .bind("details", details).bind("convo", d.convoId()).bind("ref", d.keyPackageRef()).execute();
  }

  /** Cancels the open Welcomes of a member who was removed. */
  /** Cancels every open Welcome of the conversation (its group was reset: they are for the old group). */
  public int cancelAll(Handle h, ConvoId convo) {
    return h.createUpdate("UPDATE welcomes SET state = 'cancelled' WHERE convo_id = :convo AND state IN ('pending', 'fetched')")
        .bind("convo", convo.value()).execute();
  }

  public int cancelFor(Handle h, ConvoId convo, Did did) {
    return h.createUpdate(CANCEL_FOR).bind("convo", convo.value()).bind("did", did.value()).execute();
  }

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

  /** The conversations (sorted) with an open Welcome naming one of {@code refs}. */
  public List<String> openConvoIds(Handle h, Collection<String> refs) {
    if (refs.isEmpty()) {
      return List.of();
    }
    return h.createQuery(OPEN_CONVOS_BY_REFS).bindList("refs", List.copyOf(refs)).mapTo(String.class).list();
  }

  /** Maintenance: fetched Welcomes whose grace period ended before {@code before} become consumed. */
  public int expireGrace(Handle h, long before) {
    return h.createUpdate(EXPIRE_GRACE).bind("before", before).execute();
  }
}
