package dev.mlsds.server.conversations;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.GroupInfo;
import dev.mlsds.codec.Proposal;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.Welcome;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.conversations.Conversations.AddMembers;
import dev.mlsds.server.conversations.Conversations.ConvoView;
import dev.mlsds.server.conversations.Conversations.CreateConvo;
import dev.mlsds.server.conversations.Conversations.MemberView;
import dev.mlsds.server.conversations.Conversations.Metadata;
import dev.mlsds.server.conversations.Conversations.RemoveMember;
import dev.mlsds.server.delivery.MessageLog;
import dev.mlsds.server.delivery.MlsInput;
import dev.mlsds.server.delivery.WelcomeStore;
import dev.mlsds.server.keypackages.KeyPackageStore;
import dev.mlsds.server.keypackages.StoredKeyPackage;
import dev.mlsds.server.limits.Quotas;
import dev.mlsds.server.realtime.ConvoEventLog;
import dev.mlsds.server.realtime.Notifier;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * Conversation rules (docs/api.md §4): creation, commit bundles that add members, removal, leaving, and the
 * group state a member may read. Every method is one transaction; notifications go out after it
 * commits, and only for what committed.
 *
 * <p>Add/Welcome invariants (docs/lessons.md, "Key packages and Welcomes"): the Welcome's recipients are read
 * from the Welcome itself ({@code secrets[].new_member}), never from a client-supplied hash; each must be
 * a KeyPackage of a DID in {@code didList} that this caller reserved or that is still available; each
 * becomes {@code used} and gets its own Welcome delivery, routed to the device that published it; the
 * Welcome is stored in the same transaction as the Commit's acceptance, so it is never delivered for a
 * Commit that lost (RFC 9420 §14).
 */
public final class ConvoService {
  private final Database db;
  private final ConvoStore convos;
  private final MessageLog log;
  private final WelcomeStore welcomes;
  private final KeyPackageStore keyPackages;
  private final ConvoEventLog events;
  private final Notifier notifier;
  private final Clock clock;
  private final Config.Limits limits;
  private final Quotas quotas;
  private final Counter commitConflicts;
  private final CommitPolicing policing;
  private final IntegritySettings integrity;

  public ConvoService(Database db, ConvoStore convos, MessageLog log, WelcomeStore welcomes,
      KeyPackageStore keyPackages, ConvoEventLog events, Notifier notifier, Clock clock, Config.Limits limits,
      Quotas quotas, MeterRegistry metrics, CommitPolicing policing, IntegritySettings integrity) {
    this.policing = policing;
    this.integrity = integrity;
    this.db = db;
    this.convos = convos;
    this.log = log;
    this.welcomes = welcomes;
    this.keyPackages = keyPackages;
    this.events = events;
    this.notifier = notifier;
    this.clock = clock;
    this.limits = limits;
    this.quotas = quotas;
    this.commitConflicts = Counter.builder("mlsds.commit.conflicts")
        .description("Commits refused because another commit already took the epoch (StaleEpoch/FutureEpoch)")
        .register(metrics);
  }

  public ConvoView createConvo(Did caller, CreateConvo.Input in) {
    boolean bundle = !in.initialMembers().isEmpty();
    if (bundle && in.welcome() == null) {
      throw XrpcException.invalidRequest("initialMembers needs a welcome");
    }
    if (!bundle && (in.commit() != null || in.welcome() != null)) {
      throw XrpcException.invalidRequest("commit and welcome need initialMembers");
    }
    // The 2025 client sends initialMembers and the Welcome but keeps the add commit to itself.
    boolean seedAdd = bundle && in.commit() == null;
    Bundle parsed = bundle && !seedAdd
        ? parseBundle(in.groupId().value(), in.commit(), in.welcome(), in.groupInfo(), in.initialMembers()) : null;
    Welcome seedWelcome = seedAdd ? MlsInput.welcome(in.welcome(), "welcome") : null;
    long now = clock.millis();
    ConvoView view = withConflictCount(() -> db.inTransactionReplying(h -> {
      quotas.checkOpenConvos(h, caller);
      String name = in.metadata() == null ? null : in.metadata().name();
      String description = in.metadata() == null ? null : in.metadata().description();
      HandshakePolicy policy = in.handshakePolicy() != null ? in.handshakePolicy() : integrity.defaultHandshakePolicy();
      boolean adminOnlyAdds = in.adminOnlyAdds() != null && in.adminOnlyAdds();
      if (convos.groupIdTaken(h, in.groupId().value())
          || !convos.insert(h, in.groupId(), caller, in.cipherSuite(), name, description, policy, adminOnlyAdds, now)) {
        throw new XrpcException(XrpcError.ConvoExists, "a conversation with this groupId already exists");
      }
      policing.created(h, in.groupId(), caller, policy);
      convos.addMember(h, in.groupId(), caller, "admin", 0, now);
      if (parsed != null) {
        applyAdd(h, caller, convos.lock(h, in.groupId()), parsed, now);
      }
      if (seedWelcome != null) {
        applySeedAdd(h, caller, convos.lock(h, in.groupId()), seedWelcome, new LinkedHashSet<>(in.initialMembers()), now);
      }
      return view(h, in.groupId());
    }));
    notifier.convoChanged(in.groupId().value());
    return view;
  }

  public AddMembers.Output addMembers(Did caller, AddMembers.Input in) {
    Bundle parsed = parseBundle(null, in.commit(), in.welcome(), in.groupInfo(), in.didList());
    long now = clock.millis();
    AddMembers.Output out = withConflictCount(() -> db.inTransactionReplying(h -> {
      ConvoStore.Convo convo = convos.lock(h, in.convoId());
      requireCurrentGroup(h, convo, parsed.commit(), parsed.groupInfo());
      ConvoStore.Member me = convos.requireActiveMember(h, in.convoId(), caller);
      if (convo.adminOnlyAdds() && !me.isAdmin()) {
        throw new XrpcException(XrpcError.NotAdmin, "only admins may add members to this conversation");
      }
      return applyAdd(h, caller, convo, parsed, now);
    }));
    notifier.convoChanged(in.convoId().value());
    return out;
  }

  /** A commit bundle, parsed and checked before the transaction (cheap, no I/O). */
  private record Bundle(MlsInput.GroupMessage commit, Welcome welcome, List<String> refs, GroupInfo groupInfo,
      byte[] groupInfoRaw, Set<Did> dids) {}

  /** {@code group}: the MLS group the commit must be for (a new one), or null to check it under the lock. */
  private Bundle parseBundle(String group, byte[] commitBytes, byte[] welcomeBytes, byte[] groupInfoBytes, List<Did> dids) {
    MlsInput.GroupMessage commit = group == null ? MlsInput.commit(commitBytes, "commit")
        : MlsInput.commit(commitBytes, new ConvoId(group), "commit");
    Welcome welcome = MlsInput.welcome(welcomeBytes, "welcome");
    List<String> refs = welcome.newMembers().stream().map(HexFormat.of()::formatHex).distinct().toList();
    GroupInfo gi = null;
    if (groupInfoBytes != null) {
      gi = group == null ? MlsInput.groupInfo(groupInfoBytes, "groupInfo")
          : MlsInput.groupInfo(groupInfoBytes, new ConvoId(group), "groupInfo");
      if (gi.epoch() != commit.epoch() + 1) {
        throw new XrpcException(XrpcError.InvalidMlsMessage,
            "groupInfo is for epoch " + gi.epoch() + ", the commit creates epoch " + (commit.epoch() + 1));
      }
    }
    return new Bundle(commit, welcome, refs, gi, groupInfoBytes, new LinkedHashSet<>(dids));
  }

  /** The add half of a commit bundle, on a locked conversation. */
  private AddMembers.Output applyAdd(Handle h, Did caller, ConvoStore.Convo convo, Bundle b, long now) {
    return applyAdd(h, caller, convo, b, now, CommitPolicing.Path.ADD_MEMBERS);
  }

  private AddMembers.Output applyAdd(Handle h, Did caller, ConvoStore.Convo convo, Bundle b, long now,
      CommitPolicing.Path path) {
    ConvoId id = new ConvoId(convo.id());
    if (b.welcome().cipherSuite() != convo.cipherSuite()) {
      throw new XrpcException(XrpcError.InvalidCipherSuite, "the Welcome's cipher suite " + b.welcome().cipherSuite()
          + " is not the conversation's " + convo.cipherSuite());
    }
    MessageLog.requireCurrentEpoch(convo, b.commit().epoch(), "commit");
    if (b.commit().proposalsFullyVisible() && !b.commit().addedKeyPackageRefs().equals(new LinkedHashSet<>(b.refs()))) {
      throw new XrpcException(XrpcError.WelcomeMismatch, "the Welcome's recipients are not the KeyPackages the commit adds");
    }
    List<AddMembers.WelcomeRecipient> recipients = recipients(h, caller, convo, b.welcome(), b.refs(), b.dids(), now);
    CommitPolicing.Verdict verdict = policing.check(h, convo, caller, b.commit(), path, b.dids(), null,
        b.groupInfo());
    var stored = log.acceptCommit(h, convo, caller, b.commit(), now);
    policing.accepted(h, convo, caller, verdict);
    long newEpoch = convo.epoch() + 1;
    join(h, caller, convo, b.welcome(), b.dids(), recipients, stored.seq(), newEpoch, now);
    if (b.groupInfo() != null) {
      convos.setGroupInfo(h, id, b.groupInfoRaw(), b.groupInfo().epoch());
    }
    return new AddMembers.Output(true, newEpoch, recipients);
  }

  /**
   * createConvo with initialMembers and a Welcome but no commit (the 2025 client keeps its add commit
   * pending locally, since it concerns no one else): the group is created at epoch 0 and the add commit
   * makes epoch 1, by MLS, so the conversation moves to epoch 1 with no commit in its log. The Welcome is
   * routed by the KeyPackageRefs read from it, exactly as in addMembers. Under the {@code public} handshake
   * policy the server must see every commit, so there this form is refused.
   */
  private void applySeedAdd(Handle h, Did caller, ConvoStore.Convo convo, Welcome welcome, Set<Did> dids, long now) {
    if (convo.handshakePolicy() == HandshakePolicy.PUBLIC) {
      throw XrpcException.invalidRequest("this conversation's handshake policy is public: createConvo with "
          + "initialMembers needs the add commit");
    }
    List<String> refs = welcome.newMembers().stream().map(HexFormat.of()::formatHex).distinct().toList();
    List<AddMembers.WelcomeRecipient> recipients = recipients(h, caller, convo, welcome, refs, dids, now);
    ConvoId id = new ConvoId(convo.id());
    if (!convos.advanceEpoch(h, id, 0)) {
      throw new IllegalStateException("a new conversation is not at epoch 0");
    }
    join(h, caller, convo, welcome, dids, recipients, 0, 1, now);
  }

  /** The devices a Welcome reaches: each ref an available KeyPackage of a DID in {@code dids}, every DID covered. */
  private List<AddMembers.WelcomeRecipient> recipients(Handle h, Did caller, ConvoStore.Convo convo, Welcome welcome,
      List<String> refs, Set<Did> dids, long now) {
    ConvoId id = new ConvoId(convo.id());
    if (welcome.cipherSuite() != convo.cipherSuite()) {
      throw new XrpcException(XrpcError.InvalidCipherSuite, "the Welcome's cipher suite " + welcome.cipherSuite()
          + " is not the conversation's " + convo.cipherSuite());
    }
    // H3: refs per Welcome are bounded by the device cap before any of them is looked up.
    long maxRefs = (long) dids.size() * quotas.limits().devicesPerDid();
    if (refs.size() > maxRefs) {
      throw new XrpcException(XrpcError.WelcomeMismatch, "the Welcome names " + refs.size()
          + " KeyPackages; " + dids.size() + " DID(s) hold at most " + maxRefs + " devices");
    }
    List<AddMembers.WelcomeRecipient> recipients = new ArrayList<>();
    Set<Did> covered = new LinkedHashSet<>();
    Set<String> devices = new java.util.HashSet<>();
    for (String ref : refs) {
      StoredKeyPackage kp = keyPackages.find(h, ref)
          .filter(k -> dids.contains(k.did()))
          .filter(k -> k.cipherSuite().id() == convo.cipherSuite())
          .filter(k -> k.usableBy(caller, now))
          .orElseThrow(() -> new XrpcException(XrpcError.KeyPackageNotFound, "KeyPackageRef " + ref
              + " is not an available KeyPackage of a DID in didList (nor one reserved by the caller)"));
      if (!devices.add(kp.did().value() + " " + kp.deviceId().value())) {
        throw new XrpcException(XrpcError.WelcomeMismatch, "the Welcome names two KeyPackages of one device ("
            + kp.deviceId().value() + "); a device joins a group once");
      }
      recipients.add(new AddMembers.WelcomeRecipient(kp.did(), kp.deviceId().value(), ref));
      covered.add(kp.did());
    }
    Set<Did> uncovered = new LinkedHashSet<>(dids);
    uncovered.removeAll(covered);
    if (!uncovered.isEmpty()) {
      throw new XrpcException(XrpcError.WelcomeMismatch, "the Welcome names no KeyPackage of " + uncovered.iterator().next());
    }
    long active = convos.countActive(h, id);
    long joining = dids.stream().filter(d -> convos.member(h, id, d).map(m -> !m.active()).orElse(true)).count();
    if (active + joining > limits.membersPerConvo()) {
      throw new XrpcException(XrpcError.TooManyMembers, "a conversation holds at most " + limits.membersPerConvo() + " members");
    }
    return recipients;
  }

  /** The added DIDs become members (joined at {@code joinedSeq}) and each recipient device gets the Welcome. */
  private void join(Handle h, Did caller, ConvoStore.Convo convo, Welcome welcome, Set<Did> dids,
      List<AddMembers.WelcomeRecipient> recipients, long joinedSeq, long newEpoch, long now) {
    ConvoId id = new ConvoId(convo.id());
    for (Did did : dids) {
      boolean alreadyActive = convos.member(h, id, did).map(ConvoStore.Member::active).orElse(false);
      if (!alreadyActive) {
        convos.addMember(h, id, did, "member", joinedSeq, now);
        events.append(h, convo.id(), "membershipEvent", membership(convo.id(), did, "added", newEpoch), null, now);
      }
    }
    // H3: the Welcome is stored once, whatever the number of devices it names, and counts against the adder.
    quotas.charge(h, caller, welcome.raw().length, 0);
    String blobId = welcomes.insertBlob(h, id, caller, welcome.raw(), now);
    for (AddMembers.WelcomeRecipient r : recipients) {
      keyPackages.markUsed(h, r.keyPackageRef(), convo.id(), now);
      welcomes.insert(h, id, r.keyPackageRef(), r.did(), r.deviceId(), blobId, now);
      convos.addDevice(h, id, r.did(), r.deviceId());
      events.append(h, convo.id(), "welcomeEvent", Map.of("convoId", convo.id(), "deviceId", r.deviceId()), r.did(), now);
    }
  }

  public RemoveMember.Output removeMember(Did caller, RemoveMember.Input in) {
    MlsInput.GroupMessage commit = MlsInput.commit(in.commit(), "commit");
    if (commit.proposalsFullyVisible() && !commit.visibleProposalTypes().contains(Proposal.REMOVE)) {
      throw new XrpcException(XrpcError.InvalidMlsMessage, "commit: removes no member");
    }
    GroupInfo gi = in.groupInfo() == null ? null : MlsInput.groupInfo(in.groupInfo(), "groupInfo");
    long now = clock.millis();
    RemoveMember.Output out = withConflictCount(() -> db.inTransactionReplying(h -> {
      ConvoStore.Convo convo = convos.lock(h, in.convoId());
      requireCurrentGroup(h, convo, commit, gi);
      ConvoStore.Member me = convos.requireActiveMember(h, in.convoId(), caller);
      ConvoStore.Member target = convos.member(h, in.convoId(), in.targetDid())
          .orElseThrow(() -> XrpcException.invalidRequest("targetDid is not a member of this conversation"));
      // A member who already left can be removed from the MLS group by any member (leaveConvo asks for it).
      if (target.active() && !me.isAdmin()) {
        throw new XrpcException(XrpcError.NotAdmin, "only admins may remove members");
      }
      if (gi != null && gi.epoch() != commit.epoch() + 1) {
        throw new XrpcException(XrpcError.InvalidMlsMessage, "groupInfo is not for the epoch the commit creates");
      }
      MessageLog.requireCurrentEpoch(convo, commit.epoch(), "commit");
      CommitPolicing.Verdict verdict = policing.check(h, convo, caller, commit, CommitPolicing.Path.REMOVE_MEMBER,
          Set.of(), in.targetDid(), gi);
      log.acceptCommit(h, convo, caller, commit, now);
      policing.accepted(h, convo, caller, verdict);
      long newEpoch = convo.epoch() + 1;
      convos.deactivate(h, in.convoId(), in.targetDid(), now);
      welcomes.cancelFor(h, in.convoId(), in.targetDid());
      events.append(h, convo.id(), "membershipEvent", membership(convo.id(), in.targetDid(), "removed", newEpoch), null, now);
      if (gi != null) {
        convos.setGroupInfo(h, in.convoId(), in.groupInfo(), gi.epoch());
      }
      promoteIfNoAdmin(h, in.convoId());
      return new RemoveMember.Output(true, newEpoch);
    }));
    notifier.convoChanged(in.convoId().value());
    return out;
  }

  /**
   * Group reset (docs/conversations.md, "Group reset"): an admin moves the conversation to a new MLS group.
   * Compare-and-set on the state the caller resets from: {@code fromGroupId} must be the current group (a
   * group an earlier reset replaced is 409 {@code GroupReset}) and {@code fromEpoch} its epoch (409
   * {@code StaleEpoch}/{@code FutureEpoch}), so of a reset and a commit racing for one epoch, on any nodes,
   * exactly one wins. The reset's commit is the new group's epoch-0 commit adding {@code didList} (current
   * members only), checked as addMembers checks a bundle (KeyPackages, Welcome routing, policing under
   * {@code public}); it is appended to the log, which stays readable. Open Welcomes of the old group are
   * cancelled; members not re-added are removed; every member's stream gets a {@code groupResetEvent}.
   */
  public Conversations.ResetGroup.Output resetGroup(Did caller, Conversations.ResetGroup.Input in) {
    Bundle parsed = parseBundle(in.groupId().value(), in.commit(), in.welcome(), in.groupInfo(), in.didList());
    if (parsed.commit().epoch() != 0) {
      throw new XrpcException(XrpcError.InvalidMlsMessage, "commit: a reset's commit is the new group's first "
          + "(epoch 0), not epoch " + parsed.commit().epoch());
    }
    long now = clock.millis();
    ConvoId id = in.convoId();
    var out = withConflictCount(() -> db.inTransactionReplying(h -> {
      ConvoStore.Convo convo = convos.lock(h, id);
      ConvoStore.Member me = convos.requireActiveMember(h, convo, caller);
      if (!me.isAdmin()) {
        throw new XrpcException(XrpcError.NotAdmin, "only admins may reset the group");
      }
      convos.requireCurrentGroup(h, convo, in.fromGroupId(), "fromGroupId");
      MessageLog.requireCurrentEpoch(convo, in.fromEpoch(), "fromEpoch");
      if (convos.groupIdTaken(h, in.groupId().value())) {
        throw new XrpcException(XrpcError.ConvoExists, "groupId " + in.groupId().value()
            + " is already a conversation's or a group's id: a reset starts a group with a new id");
      }
      List<ConvoStore.Member> active = convos.activeMembers(h, List.of(id.value()));
      Set<Did> activeDids = new LinkedHashSet<>();
      active.forEach(m -> activeDids.add(m.did()));
      for (Did did : parsed.dids()) {
        if (!activeDids.contains(did)) {
          throw XrpcException.invalidRequest("didList: " + did.value() + " is not a member; a reset re-adds members "
              + "(add others with addMembers afterwards)");
        }
      }
      welcomes.cancelAll(h, id);
      if (!convos.reset(h, convo, in.groupId().value(), convo.handshakePolicy() == HandshakePolicy.PUBLIC ? 0L : null,
          caller, now)) {
        throw new IllegalStateException("the locked conversation changed under its row lock");
      }
      policing.reset(h, id, caller, convo.handshakePolicy());
      AddMembers.Output added = applyAdd(h, caller, convos.lock(h, id), parsed, now, CommitPolicing.Path.RESET_GROUP);
      ConvoStore.Convo after = convos.lock(h, id);
      long resetSeq = after.latestSeq();
      convos.setResetSeq(h, id, resetSeq);
      List<Did> removed = new ArrayList<>();
      for (Did did : activeDids) {
        if (!did.equals(caller) && !parsed.dids().contains(did)) {
          convos.deactivate(h, id, did, now);
          welcomes.cancelFor(h, id, did);
          events.append(h, id.value(), "membershipEvent", membership(id.value(), did, "removed", added.newEpoch()), null, now);
          removed.add(did);
        }
      }
      Map<String, Object> event = new LinkedHashMap<>();
      event.put("convoId", id.value());
      event.put("groupId", in.groupId().value());
      event.put("previousGroupId", convo.groupId());
      event.put("epoch", added.newEpoch());
      event.put("resetSeq", resetSeq);
      event.put("resetBy", caller.value());
      if (in.reason() != null) {
        event.put("reason", in.reason());
      }
      events.append(h, id.value(), "groupResetEvent", event, null, now);
      return new Conversations.ResetGroup.Output(true, in.groupId().value(), added.newEpoch(), resetSeq,
          added.welcomeRecipients(), removed);
    }));
    notifier.convoChanged(id.value());
    return out;
  }

  /**
   * The 2025 client's leaveConvo: {@code {convoId}} leaves without a commit (the epoch does not move;
   * {@code newEpoch} is the current one); {@code targetDid} other than the caller, with a commit, is a
   * removeMember. A commit with no other target would remove its own committer, which RFC 9420 §12.4
   * forbids, so it is refused rather than silently ignored.
   */
  public Conversations.LeaveConvo.Output leaveConvo(Did caller, Conversations.LeaveConvo.Input in) {
    boolean self = in.targetDid() == null || in.targetDid().equals(caller);
    if (!self) {
      if (in.commit() == null) {
        throw XrpcException.invalidRequest("removing another member (targetDid) needs a commit");
      }
      RemoveMember.Output removed = removeMember(caller, new RemoveMember.Input(in.convoId(), in.targetDid(), in.commit(), null));
      return new Conversations.LeaveConvo.Output(removed.success(), removed.newEpoch());
    }
    if (in.commit() != null) {
      throw new XrpcException(XrpcError.InvalidMlsMessage,
          "commit: a member cannot commit its own removal; leave without a commit and another member commits the Remove");
    }
    return leaveConvo(caller, in.convoId());
  }

  public Conversations.LeaveConvo.Output leaveConvo(Did caller, ConvoId convoId) {
    long now = clock.millis();
    Conversations.LeaveConvo.Output out = db.inTransactionReplying(h -> {
      ConvoStore.Convo convo = convos.lock(h, convoId);
      convos.requireActiveMember(h, convoId, caller);
      convos.deactivate(h, convoId, caller, now);
      welcomes.cancelFor(h, convoId, caller);
      events.append(h, convo.id(), "membershipEvent", membership(convo.id(), caller, "left", convo.epoch()), null, now);
      if (convos.countActive(h, convoId) == 0) {
        convos.close(h, convoId);
      } else {
        promoteIfNoAdmin(h, convoId);
      }
      return new Conversations.LeaveConvo.Output(true, convo.epoch());
    });
    notifier.convoChanged(convoId.value());
    return out;
  }

  /** The last admin gone: the longest-standing active member becomes admin. */
  private void promoteIfNoAdmin(Handle h, ConvoId id) {
    List<ConvoStore.Member> active = convos.activeMembers(h, List.of(id.value()));
    if (!active.isEmpty() && active.stream().noneMatch(ConvoStore.Member::isAdmin)) {
      convos.promote(h, id, active.get(0).did());
    }
  }

  public Conversations.GetConvos.Output getConvos(Did caller, int limit, String cursor) {
    Long afterKey = null;
    String afterId = null;
    if (cursor != null) {
      String[] parts = decodeCursor(cursor);
      afterKey = Long.parseLong(parts[0]);
      afterId = parts[1];
    }
    Long key = afterKey;
    String id = afterId;
    return db.withHandle(h -> {
      List<ConvoStore.Convo> page = convos.convosOf(h, caller, key, id, limit + 1);
      boolean more = page.size() > limit;
      List<ConvoStore.Convo> shown = more ? page.subList(0, limit) : page;
      List<ConvoView> views = views(h, shown);
      String next = null;
      if (more) {
        ConvoStore.Convo last = shown.get(shown.size() - 1);
        long k = last.lastMessageAt() != null ? last.lastMessageAt() : last.createdAt();
        next = Base64.getUrlEncoder().withoutPadding().encodeToString((k + ":" + last.id()).getBytes(StandardCharsets.UTF_8));
      }
      return new Conversations.GetConvos.Output(views, next);
    });
  }

  private static String[] decodeCursor(String cursor) {
    try {
      String s = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
      String[] parts = s.split(":", 2);
      Long.parseLong(parts[0]);
      new ConvoId(parts[1]);
      return parts;
    } catch (RuntimeException e) {
      throw XrpcException.invalidRequest("cursor is not one this server issued");
    }
  }

  public Conversations.GetEpoch.Output getEpoch(Did caller, ConvoId id) {
    return db.withHandle(h -> {
      convos.requireActiveMember(h, id, caller);
      return new Conversations.GetEpoch.Output(id.value(), convos.find(h, id).orElseThrow().epoch());
    });
  }

  public Conversations.GetGroupInfo.Output getGroupInfo(Did caller, ConvoId id) {
    return db.withHandle(h -> {
      convos.requireActiveMember(h, id, caller);
      ConvoStore.Convo c = convos.find(h, id).orElseThrow();
      if (c.groupInfo() == null) {
        throw new XrpcException(XrpcError.GroupInfoNotFound, "no GroupInfo stored for this conversation");
      }
      return new Conversations.GetGroupInfo.Output(c.groupInfo(), c.groupInfoEpoch());
    });
  }

  public Conversations.UpdateGroupInfo.Output updateGroupInfo(Did caller, ConvoId id, byte[] groupInfo) {
    GroupInfo gi = MlsInput.groupInfo(groupInfo, "groupInfo");
    return db.inTransactionReplying(h -> {
      ConvoStore.Convo convo = convos.lock(h, id);
      requireCurrentGroup(h, convo, null, gi);
      convos.requireActiveMember(h, id, caller);
      if (gi.cipherSuite() != convo.cipherSuite()) {
        throw new XrpcException(XrpcError.InvalidMlsMessage, "groupInfo: cipher suite 0x"
            + java.util.HexFormat.of().toHexDigits((short) gi.cipherSuite()) + " is not the conversation's");
      }
      MessageLog.requireCurrentEpoch(convo, gi.epoch(), "groupInfo");
      policing.checkGroupInfo(h, convo, gi, "updateGroupInfo");
      convos.setGroupInfo(h, id, groupInfo, gi.epoch());
      return new Conversations.UpdateGroupInfo.Output(true, gi.epoch());
    });
  }

  /**
   * A member whose device lost its MLS state rejoins with an external commit. Only current members may
   * (external commits are denied to everyone else by default, docs/lessons.md "Security").
   */
  public Conversations.ProcessExternalCommit.Output processExternalCommit(Did caller, ConvoId id, byte[] commitBytes,
      byte[] groupInfo) {
    MlsInput.GroupMessage commit = MlsInput.commit(commitBytes, "commit");
    if (commit.publicMessage() == null || commit.publicMessage().sender().type() != Sender.Type.NEW_MEMBER_COMMIT) {
      throw new XrpcException(XrpcError.InvalidMlsMessage,
          "commit: an external commit is a PublicMessage from sender type new_member_commit");
    }
    GroupInfo gi = groupInfo == null ? null : MlsInput.groupInfo(groupInfo, "groupInfo");
    long now = clock.millis();
    var out = withConflictCount(() -> db.inTransactionReplying(h -> {
      ConvoStore.Convo convo = convos.lock(h, id);
      requireCurrentGroup(h, convo, commit, gi);
      convos.requireActiveMember(h, id, caller);
      if (gi != null && gi.epoch() != commit.epoch() + 1) {
        throw new XrpcException(XrpcError.InvalidMlsMessage, "groupInfo is not for the epoch the commit creates");
      }
      MessageLog.requireCurrentEpoch(convo, commit.epoch(), "commit");
      CommitPolicing.Verdict verdict = policing.check(h, convo, caller, commit, CommitPolicing.Path.EXTERNAL_COMMIT,
          Set.of(), null, gi);
      log.acceptCommit(h, convo, caller, commit, now);
      policing.accepted(h, convo, caller, verdict);
      if (gi != null) {
        convos.setGroupInfo(h, id, groupInfo, gi.epoch());
      }
      return new Conversations.ProcessExternalCommit.Output(convo.epoch() + 1);
    }));
    notifier.convoChanged(id.value());
    return out;
  }

  /** The commit and GroupInfo (either may be null) must be for the locked conversation's current MLS group. */
  private void requireCurrentGroup(Handle h, ConvoStore.Convo convo, MlsInput.GroupMessage commit, GroupInfo gi) {
    if (commit != null) {
      convos.requireCurrentGroup(h, convo, commit.groupId(), "commit");
    }
    if (gi != null) {
      convos.requireCurrentGroup(h, convo, HexFormat.of().formatHex(gi.groupId()), "groupInfo");
    }
  }

  /** The API view of one conversation (inside a transaction or handle). */
  public ConvoView view(Handle h, ConvoId id) {
    return views(h, List.of(convos.find(h, id).orElseThrow(() -> ConvoStore.notFound(id)))).get(0);
  }

  private List<ConvoView> views(Handle h, List<ConvoStore.Convo> list) {
    List<String> ids = list.stream().map(ConvoStore.Convo::id).toList();
    Map<String, List<ConvoStore.Member>> members = new LinkedHashMap<>();
    for (ConvoStore.Member m : convos.activeMembers(h, ids)) {
      members.computeIfAbsent(m.convoId(), k -> new ArrayList<>()).add(m);
    }
    Map<String, Map<String, List<String>>> devices = convos.devices(h, ids);
    List<ConvoView> out = new ArrayList<>();
    for (ConvoStore.Convo c : list) {
      List<MemberView> mv = members.getOrDefault(c.id(), List.of()).stream()
          .map(m -> new MemberView(m.did(), Instant.ofEpochMilli(m.joinedAt()), m.role(),
              devices.getOrDefault(c.id(), Map.of()).getOrDefault(m.did().value(), List.of())))
          .toList();
      Metadata md = c.name() == null && c.description() == null ? null : new Metadata(c.name(), c.description());
      out.add(new ConvoView(c.id(), c.groupId(), c.creator(), mv, c.epoch(), suiteName(c.cipherSuite()),
          Instant.ofEpochMilli(c.createdAt()), c.lastMessageAt() == null ? null : Instant.ofEpochMilli(c.lastMessageAt()), md,
          c.handshakePolicy().wireName(), c.adminOnlyAdds()));
    }
    return out;
  }

  static String suiteName(int id) {
    return CipherSuite.byId(id).map(CipherSuite::name).orElse(Integer.toString(id));
  }

  static Map<String, Object> membership(String convoId, Did did, String action, long epoch) {
    return Map.of("convoId", convoId, "did", did.value(), "action", action, "epoch", epoch);
  }

  private <T> T withConflictCount(java.util.function.Supplier<T> work) {
    try {
      return work.get();
    } catch (XrpcException e) {
      if (e.error() == XrpcError.StaleEpoch || e.error() == XrpcError.FutureEpoch) {
        commitConflicts.increment();
      }
      throw e;
    }
  }
}
