package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Dialect;
import dev.mlsds.server.storage.Sql;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * SQL for {@code convos}, {@code members} and {@code member_devices}.
 *
 * <p>Contract: {@link #lock} takes the conversation's row lock (PostgreSQL {@code FOR UPDATE}; SQLite
 * transactions are already exclusive) and every write to a conversation calls it first, so the epoch
 * compare-and-set, the seq allocation and the event positions of one conversation happen one transaction
 * at a time, in commit order, across all nodes.
 */
public final class ConvoStore {
  /** A conversation row. */
  public record Convo(String id, Did creator, int cipherSuite, long epoch, long latestSeq, String name,
      String description, boolean adminOnlyAdds, boolean closed, byte[] groupInfo, Long groupInfoEpoch,
      long createdAt, Long lastMessageAt, HandshakePolicy handshakePolicy, Long rosterEpoch, String groupId,
      long resetSeq) {
    /** True when the server's leaf roster is exact for the current epoch. */
    public boolean rosterKnown() {
      return rosterEpoch != null && rosterEpoch == epoch;
    }
  }

  /** A membership row; {@code joinedSeq} is the seq of the Commit that (re)added the member. */
  public record Member(String convoId, Did did, String role, boolean active, long joinedAt, long joinedSeq, Long leftAt) {
    public boolean isAdmin() {
      return role.equals("admin");
    }
  }

  private static final String CONVO_COLUMNS = """
      id, creator_did, cipher_suite, epoch, latest_seq, name, description, admin_only_adds, closed,
      group_info, group_info_epoch, created_at, last_message_at, handshake_policy, roster_epoch,
      group_id, reset_seq""";
  private static final String INSERT = """
      INSERT INTO convos (id, creator_did, cipher_suite, epoch, latest_seq, name, description, created_at,
        handshake_policy, roster_epoch, admin_only_adds)
      VALUES (:id, :creator, :suite, 0, 0, :name, :description, :now, :policy, :rosterEpoch, :adminOnlyAdds)
      ON CONFLICT (id) DO NOTHING""";
  private static final String FIND = "SELECT " + CONVO_COLUMNS + " FROM convos WHERE id = :id";
  private static final String ADVANCE_EPOCH = """
      UPDATE convos SET epoch = epoch + 1 WHERE id = :id AND epoch = :expected""";
  private static final String NEXT_SEQ = """
      UPDATE convos SET latest_seq = latest_seq + 1, last_message_at = :now WHERE id = :id RETURNING latest_seq""";
  private static final String SET_GROUP_INFO = """
      UPDATE convos SET group_info = :info, group_info_epoch = :epoch WHERE id = :id""";
  private static final String CLOSE = "UPDATE convos SET closed = TRUE WHERE id = :id";

  private static final String MEMBER_COLUMNS = "convo_id, did, role, active, joined_at, joined_seq, left_at";
  private static final String FIND_MEMBER = "SELECT " + MEMBER_COLUMNS + " FROM members WHERE convo_id = :convo AND did = :did";
  private static final String ACTIVE_MEMBERS = """
      SELECT %s FROM members WHERE convo_id IN (<convos>) AND active = TRUE ORDER BY convo_id, joined_at, did"""
      .formatted(MEMBER_COLUMNS);
  private static final String COUNT_ACTIVE = "SELECT COUNT(*) FROM members WHERE convo_id = :convo AND active = TRUE";
  private static final String UPSERT_MEMBER = """
      INSERT INTO members (convo_id, did, role, active, joined_at, joined_seq, left_at)
      VALUES (:convo, :did, :role, TRUE, :now, :seq, NULL)
      ON CONFLICT (convo_id, did) DO UPDATE SET role = :role, active = TRUE, joined_at = :now,
        joined_seq = :seq, left_at = NULL""";
  private static final String DEACTIVATE = """
      UPDATE members SET active = FALSE, left_at = :now WHERE convo_id = :convo AND did = :did AND active = TRUE""";
  private static final String PROMOTE = "UPDATE members SET role = 'admin' WHERE convo_id = :convo AND did = :did";
  private static final String ADD_DEVICE = """
      INSERT INTO member_devices (convo_id, did, device_id) VALUES (:convo, :did, :device)
      ON CONFLICT (convo_id, did, device_id) DO NOTHING""";
  private static final String DEVICES = """
      SELECT convo_id, did, device_id FROM member_devices WHERE convo_id IN (<convos>) ORDER BY device_id""";
  private static final String CONVOS_OF = """
      SELECT %s FROM convos c JOIN members m ON m.convo_id = c.id
      WHERE m.did = :did AND m.active = TRUE AND c.closed = FALSE <after>
      ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id ASC
      LIMIT :limit""".formatted(prefixed("c", CONVO_COLUMNS));

  private final Dialect dialect;
  // sendMessage's statements, as plain JDBC (storage.Sql); the rest use JDBI.
  private final Sql lock;
  private static final Sql NEXT_SEQ_SQL = Sql.of(NEXT_SEQ);
  private static final Sql FIND_MEMBER_SQL = Sql.of(FIND_MEMBER);

  public ConvoStore(Dialect dialect) {
    this.dialect = dialect;
    this.lock = Sql.of(FIND + dialect.forUpdate());
  }

  /**
   * Creates a conversation at epoch 0; false if the id is taken. Under {@code public} the roster (the creator
   * at leaf 0) is exact from epoch 0.
   */
  public boolean insert(Handle h, ConvoId id, Did creator, int suite, String name, String description,
      HandshakePolicy policy, boolean adminOnlyAdds, long now) {
    return h.createUpdate(INSERT).bind("id", id.value()).bind("creator", creator.value()).bind("suite", suite)
        .bind("name", name).bind("description", description).bind("now", now).bind("policy", policy.wireName())
        .bind("rosterEpoch", policy == HandshakePolicy.PUBLIC ? (Long) 0L : null)
        .bind("adminOnlyAdds", adminOnlyAdds).execute() == 1;
  }

  /** Records that the leaf roster is exact for {@code epoch} ({@code null}: unknown). */
  public void setRosterEpoch(Handle h, ConvoId id, Long epoch) {
    h.createUpdate("UPDATE convos SET roster_epoch = :epoch WHERE id = :id").bind("id", id.value())
        .bind("epoch", epoch).execute();
  }

  // ---- group reset (docs/conversations.md, "Group reset") ----------------------------------------

  private static final String RESET = """
      UPDATE convos SET group_id = :group, epoch = 0, roster_epoch = :rosterEpoch, group_info = NULL,
        group_info_epoch = NULL
      WHERE id = :id AND COALESCE(group_id, id) = :from AND epoch = :epoch AND reset_seq = :resetSeq""";
  private static final String GROUP_TAKEN = """
      SELECT (SELECT COUNT(*) FROM convos WHERE id = :group OR group_id = :group)
           + (SELECT COUNT(*) FROM convo_groups WHERE group_id = :group)""";

  /**
   * Compare-and-set from the locked state ({@code convo}'s group, epoch and reset seq) to a new MLS group at
   * epoch 0; false if any of the three moved. The caller holds the row lock; the condition is the
   * database-level guarantee, as for {@link #advanceEpoch}.
   */
  public boolean reset(Handle h, Convo convo, String newGroupId, Long rosterEpoch, Did by, long now) {
    int n = h.createUpdate(RESET).bind("id", convo.id()).bind("group", newGroupId).bind("rosterEpoch", rosterEpoch)
        .bind("from", convo.groupId()).bind("epoch", convo.epoch()).bind("resetSeq", convo.resetSeq()).execute();
    if (n != 1) {
      return false;
    }
    h.createUpdate("""
        INSERT INTO convo_groups (group_id, convo_id, ended_seq, ended_at, reset_by)
        VALUES (:group, :convo, :seq, :now, :by)""").bind("group", convo.groupId()).bind("convo", convo.id())
        .bind("seq", convo.latestSeq()).bind("now", now).bind("by", by.value()).execute();
    return true;
  }

  public void setResetSeq(Handle h, ConvoId id, long seq) {
    h.createUpdate("UPDATE convos SET reset_seq = :seq WHERE id = :id").bind("id", id.value()).bind("seq", seq).execute();
  }

  /** True if {@code groupId} is a conversation's id, its current group or a group it ran on before. */
  public boolean groupIdTaken(Handle h, String groupId) {
    return h.createQuery(GROUP_TAKEN).bind("group", groupId).mapTo(Long.class).one() > 0;
  }

  /**
   * {@code groupId} (read from MLS bytes in {@code field}) must be the conversation's current group: one it
   * ran on before a reset is 409 {@code GroupReset} (naming the current group), any other 400 {@code WrongGroup}.
   */
  public void requireCurrentGroup(Handle h, Convo convo, String groupId, String field) {
    if (groupId.equals(convo.groupId())) {
      return;
    }
    boolean former = h.createQuery("SELECT COUNT(*) FROM convo_groups WHERE convo_id = :convo AND group_id = :group")
        .bind("convo", convo.id()).bind("group", groupId).mapTo(Long.class).one() > 0;
    if (former) {
      throw groupReset(convo, field + " is for a group this conversation left when it was reset");
    }
    throw dev.mlsds.server.delivery.MlsInput.wrongGroup(groupId, convo.groupId(), field);
  }

  /** 409 {@code GroupReset}: the conversation now runs on {@code convo.groupId()} (body: groupId, resetSeq). */
  public static XrpcException groupReset(Convo convo, String what) {
    return new XrpcException(XrpcError.GroupReset, what + "; it now runs on group " + convo.groupId()
        + " (join it with the Welcome from getWelcome)", Map.of("groupId", convo.groupId(), "resetSeq", convo.resetSeq()));
  }

  public void setAdminOnlyAdds(Handle h, ConvoId id, boolean value) {
    h.createUpdate("UPDATE convos SET admin_only_adds = :v WHERE id = :id").bind("id", id.value()).bind("v", value)
        .execute();
  }

  public void demote(Handle h, ConvoId id, Did did) {
    h.createUpdate("UPDATE members SET role = 'member' WHERE convo_id = :convo AND did = :did")
        .bind("convo", id.value()).bind("did", did.value()).execute();
  }

  public Optional<Convo> find(Handle h, ConvoId id) {
    return h.createQuery(FIND).bind("id", id.value()).map((rs, ctx) -> convo(rs)).findFirst();
  }

  /** Locks the conversation row for this transaction; 404 {@code ConvoNotFound} if there is none. */
  public Convo lock(Handle h, ConvoId id) {
    return lock.first(h, ConvoStore::convo, "id", id.value())
        .filter(c -> !c.closed())
        .orElseThrow(() -> notFound(id));
  }

  /** Compare-and-set on the epoch; true if it moved from {@code expected} to {@code expected + 1}. */
  public boolean advanceEpoch(Handle h, ConvoId id, long expected) {
    return h.createUpdate(ADVANCE_EPOCH).bind("id", id.value()).bind("expected", expected).execute() == 1;
  }

  /** Allocates the next seq (caller holds the row lock). */
  public long nextSeq(Handle h, ConvoId id, long now) {
    return NEXT_SEQ_SQL.one(h, rs -> rs.getLong(1), "now", now, "id", id.value());
  }

  public void setGroupInfo(Handle h, ConvoId id, byte[] groupInfo, long epoch) {
    h.createUpdate(SET_GROUP_INFO).bind("id", id.value()).bind("info", groupInfo).bind("epoch", epoch).execute();
  }

  public void close(Handle h, ConvoId id) {
    h.createUpdate(CLOSE).bind("id", id.value()).execute();
  }

  public Optional<Member> member(Handle h, ConvoId id, Did did) {
    return FIND_MEMBER_SQL.first(h, ConvoStore::member, "convo", id.value(), "did", did.value());
  }

  /**
   * The caller's active membership of an existing conversation: 404 {@code ConvoNotFound} if there is
   * no such (open) conversation, 403 {@code NotMember} if the caller is not (or no longer) a member.
   */
  public Member requireActiveMember(Handle h, ConvoId id, Did did) {
    Optional<Convo> convo = find(h, id).filter(c -> !c.closed());
    if (convo.isEmpty()) {
      throw notFound(id);
    }
    return member(h, id, did).filter(Member::active)
        .orElseThrow(() -> new XrpcException(XrpcError.NotMember, "caller is not a member of this conversation"));
  }

  /**
   * As {@link #requireActiveMember(Handle, ConvoId, Did)} for a conversation the caller already holds from
   * {@link #lock} (which refused a missing or closed one), so the row is not read a second time.
   */
  public Member requireActiveMember(Handle h, Convo locked, Did did) {
    return member(h, new ConvoId(locked.id()), did).filter(Member::active)
        .orElseThrow(() -> new XrpcException(XrpcError.NotMember, "caller is not a member of this conversation"));
  }

  public List<Member> activeMembers(Handle h, Collection<String> convoIds) {
    if (convoIds.isEmpty()) {
      return List.of();
    }
    return h.createQuery(ACTIVE_MEMBERS).bindList("convos", List.copyOf(convoIds)).map((rs, ctx) -> member(rs)).list();
  }

  public long countActive(Handle h, ConvoId id) {
    return h.createQuery(COUNT_ACTIVE).bind("convo", id.value()).mapTo(Long.class).one();
  }

  /** Makes {@code did} an active member (re-adding a former member) who sees messages after {@code joinedSeq}. */
  public void addMember(Handle h, ConvoId id, Did did, String role, long joinedSeq, long now) {
    h.createUpdate(UPSERT_MEMBER).bind("convo", id.value()).bind("did", did.value()).bind("role", role)
        .bind("seq", joinedSeq).bind("now", now).execute();
  }

  /** True if {@code did} was active and now is not. */
  public boolean deactivate(Handle h, ConvoId id, Did did, long now) {
    return h.createUpdate(DEACTIVATE).bind("convo", id.value()).bind("did", did.value()).bind("now", now).execute() == 1;
  }

  public void promote(Handle h, ConvoId id, Did did) {
    h.createUpdate(PROMOTE).bind("convo", id.value()).bind("did", did.value()).execute();
  }

  public void addDevice(Handle h, ConvoId id, Did did, String deviceId) {
    h.createUpdate(ADD_DEVICE).bind("convo", id.value()).bind("did", did.value()).bind("device", deviceId).execute();
  }

  /** Device ids per (convo, did). */
  public Map<String, Map<String, List<String>>> devices(Handle h, Collection<String> convoIds) {
    if (convoIds.isEmpty()) {
      return Map.of();
    }
    Map<String, Map<String, List<String>>> out = new java.util.HashMap<>();
    h.createQuery(DEVICES).bindList("convos", List.copyOf(convoIds)).map((rs, ctx) -> new String[] {
        rs.getString("convo_id"), rs.getString("did"), rs.getString("device_id")}).forEach(r ->
        out.computeIfAbsent(r[0], k -> new java.util.HashMap<>()).computeIfAbsent(r[1], k -> new java.util.ArrayList<>()).add(r[2]));
    return out;
  }

  /** A page of the caller's open conversations, most recent activity first, after a keyset position. */
  public List<Convo> convosOf(Handle h, Did did, Long afterKey, String afterId, int limit) {
    String after = afterKey == null ? "" : """
        AND (COALESCE(c.last_message_at, c.created_at) < :afterKey
             OR (COALESCE(c.last_message_at, c.created_at) = :afterKey AND c.id > :afterId))""";
    var q = h.createQuery(CONVOS_OF.replace("<after>", after)).bind("did", did.value()).bind("limit", limit);
    if (afterKey != null) {
      q.bind("afterKey", afterKey).bind("afterId", afterId);
    }
    return q.map((rs, ctx) -> convo(rs)).list();
  }

  static XrpcException notFound(ConvoId id) {
    return new XrpcException(XrpcError.ConvoNotFound, "no conversation " + id.value());
  }

  private static Convo convo(java.sql.ResultSet rs) throws java.sql.SQLException {
    long lastMessage = rs.getLong("last_message_at");
    Long lastMessageAt = rs.wasNull() ? null : lastMessage;
    long gie = rs.getLong("group_info_epoch");
    Long groupInfoEpoch = rs.wasNull() ? null : gie;
    long re = rs.getLong("roster_epoch");
    Long rosterEpoch = rs.wasNull() ? null : re;
    return new Convo(rs.getString("id"), new Did(rs.getString("creator_did")), rs.getInt("cipher_suite"),
        rs.getLong("epoch"), rs.getLong("latest_seq"), rs.getString("name"), rs.getString("description"),
        rs.getBoolean("admin_only_adds"), rs.getBoolean("closed"), rs.getBytes("group_info"), groupInfoEpoch,
        rs.getLong("created_at"), lastMessageAt, HandshakePolicy.parse(rs.getString("handshake_policy")),
        rosterEpoch, rs.getString("group_id") == null ? rs.getString("id") : rs.getString("group_id"),
        rs.getLong("reset_seq"));
  }

  private static Member member(java.sql.ResultSet rs) throws java.sql.SQLException {
    long left = rs.getLong("left_at");
    Long leftAt = rs.wasNull() ? null : left;
    return new Member(rs.getString("convo_id"), new Did(rs.getString("did")), rs.getString("role"),
        rs.getBoolean("active"), rs.getLong("joined_at"), rs.getLong("joined_seq"), leftAt);
  }

  private static String prefixed(String alias, String columns) {
    return java.util.Arrays.stream(columns.split(",")).map(String::strip).map(c -> alias + "." + c)
        .collect(java.util.stream.Collectors.joining(", "));
  }
}
