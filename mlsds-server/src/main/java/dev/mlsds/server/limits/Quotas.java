package dev.mlsds.server.limits;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Sql;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import org.jdbi.v3.core.Handle;

/**
 * Per-DID storage quotas (H4 of the 2026-12 security review) and the SQL of {@code storage_usage}.
 *
 * <p>Contract: every write that stores bytes on a DID's behalf calls {@link #charge} in its own
 * transaction, and every purge that deletes them calls {@link #release} in the deleting one, so the
 * usage row is exact at every commit. A charge that goes over a quota throws 403 {@code QuotaExceeded},
 * which rolls the whole write back: nothing over quota is ever committed. The usage row is locked by
 * the charge until commit, after the conversation row (the one lock order of writes), so one DID's
 * concurrent writes to several conversations queue on it; different DIDs never wait for each other.
 */
public final class Quotas {
  private final StorageLimits limits;

  public Quotas(StorageLimits limits) {
    this.limits = limits;
  }

  public StorageLimits limits() {
    return limits;
  }

  private static final String CHARGE = """
      INSERT INTO storage_usage (did, bytes, messages) VALUES (:did, :bytes, :messages)
      ON CONFLICT (did) DO UPDATE SET bytes = storage_usage.bytes + :bytes, messages = storage_usage.messages + :messages
      RETURNING bytes, messages""";

  private static final Sql CHARGE_SQL = Sql.of(CHARGE);

  /** Counts {@code bytes} and {@code messages} stored for {@code did}; throws QuotaExceeded when over. */
  public void charge(Handle h, Did did, long bytes, int messages) {
    long[] now = CHARGE_SQL.one(h, rs -> new long[] {rs.getLong("bytes"), rs.getLong("messages")},
        "did", did.value(), "bytes", bytes, "messages", messages);
    if (limits.userMaxStoredBytes() > 0 && bytes > 0 && now[0] > limits.userMaxStoredBytes()) {
      throw exceeded("storing this would take the caller's stored data to " + now[0] + " bytes, over the quota of "
          + limits.userMaxStoredBytes());
    }
    if (limits.userMaxStoredMessages() > 0 && messages > 0 && now[1] > limits.userMaxStoredMessages()) {
      throw exceeded("the caller already has " + (now[1] - messages) + " messages stored, the quota is "
          + limits.userMaxStoredMessages());
    }
  }

  private static final String RELEASE = """
      UPDATE storage_usage SET
        bytes = CASE WHEN bytes > :bytes THEN bytes - :bytes ELSE 0 END,
        messages = CASE WHEN messages > :messages THEN messages - :messages ELSE 0 END
      WHERE did = :did""";

  /** Uncounts what a purge deleted. */
  public void release(Handle h, String did, long bytes, long messages) {
    h.createUpdate(RELEASE).bind("did", did).bind("bytes", bytes).bind("messages", messages).execute();
  }

  /** What {@code did} has stored: {bytes, messages}. */
  public long[] usage(Handle h, Did did) {
    return h.createQuery("SELECT bytes, messages FROM storage_usage WHERE did = :did").bind("did", did.value())
        .map((rs, ctx) -> new long[] {rs.getLong("bytes"), rs.getLong("messages")}).findFirst()
        .orElse(new long[] {0, 0});
  }

  private static final String OPEN_CONVOS = "SELECT COUNT(*) FROM convos WHERE creator_did = :did AND closed = FALSE";

  /** Before {@code did} creates a conversation: QuotaExceeded if it already has the most open ones allowed. */
  public void checkOpenConvos(Handle h, Did did) {
    if (limits.userMaxOpenConvos() <= 0) {
      return;
    }
    long open = h.createQuery(OPEN_CONVOS).bind("did", did.value()).mapTo(Long.class).one();
    if (open >= limits.userMaxOpenConvos()) {
      throw exceeded("the caller already created " + open + " open conversations, the quota is "
          + limits.userMaxOpenConvos());
    }
  }

  private static XrpcException exceeded(String message) {
    return new XrpcException(XrpcError.QuotaExceeded, message);
  }
}
