package dev.mlsds.server.conversations;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.Commit;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.Credential;
import dev.mlsds.codec.GroupInfo;
import dev.mlsds.codec.InvalidKeyPackageException;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.KeyPackagePolicy;
import dev.mlsds.codec.KeyPackageValidator;
import dev.mlsds.codec.LeafNode;
import dev.mlsds.codec.MlsDecodeException;
import dev.mlsds.codec.MlsMessage;
import dev.mlsds.codec.MlsWriter;
import dev.mlsds.codec.Proposal;
import dev.mlsds.codec.ProposalOrRef;
import dev.mlsds.codec.PublicGroupState;
import dev.mlsds.codec.PublicMessage;
import dev.mlsds.codec.PublicTreeException;
import dev.mlsds.codec.Sender;
import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.delivery.MessageLog;
import dev.mlsds.server.delivery.MlsInput;
import dev.mlsds.server.keypackages.KeyPackageStore;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.jdbi.v3.core.Handle;

/**
 * Which proposals each commit path accepts, and whose leaves a commit may touch (docs/conversations.md,
 * "Policed membership"). Called under the conversation's row lock, before the commit is accepted.
 *
 * <p>Under the {@code public} handshake policy every commit and proposal is a PublicMessage, so the server
 * resolves every proposal (inline, or by reference to a proposal it stored), applies it to its leaf roster
 * ({@link LeafRoster}) and refuses: a sender leaf that is not the caller's; a proposal type the path does not
 * take; a Remove of someone else's leaf where the path does not allow it; an Add whose KeyPackage is invalid
 * or names a DID the call did not name; an Update, UpdatePath or external-join leaf whose credential is not
 * the caller's DID, or a leaf signature key that is none of the DID's known devices. Where the server keeps the
 * group's {@link PublicGroupState} (every {@code public} conversation created since V15), it also verifies the
 * commit's and proposals' signatures, the UpdatePath's parent hashes and every uploaded GroupInfo against it, and
 * moves it to the next epoch with the commit. Under {@code any} an encrypted commit cannot be checked: only the visible parts of a
 * PublicMessage are (inline Adds validated, removeMember takes Removes only), and the roster becomes unknown.
 */
public final class CommitPolicing {
  private static final byte[] PROPOSAL_REF_LABEL = "MLS 1.0 Proposal Reference".getBytes(StandardCharsets.US_ASCII);

  /** The commit paths of the API. */
  public enum Path {
    ADD_MEMBERS("addMembers", Set.of(Proposal.ADD)),
    RESET_GROUP("resetGroup", Set.of(Proposal.ADD)),
    REMOVE_MEMBER("removeMember", Set.of(Proposal.REMOVE)),
    SEND_MESSAGE("sendMessage", Set.of(Proposal.UPDATE, Proposal.REMOVE, Proposal.PSK)),
    EXTERNAL_COMMIT("processExternalCommit", Set.of(Proposal.EXTERNAL_INIT, Proposal.REMOVE, Proposal.PSK));

    final String method;
    final Set<Integer> accepts;

    Path(String method, Set<Integer> accepts) {
      this.method = method;
      this.accepts = accepts;
    }
  }

  /**
   * The roster before and after the commit (both null when the server does not track it), and the public group
   * state of the epoch the commit makes (null when the server keeps none for this conversation).
   */
  public record Verdict(LeafRoster before, LeafRoster after, PublicGroupState next) {
    static final Verdict UNTRACKED = new Verdict(null, null, null);
  }

  private record Resolved(Proposal proposal, Long proposerLeaf, Did proposer) {}

  private final ConvoStore convos;
  private final RosterStore rosters;
  private final GroupStateStore states;
  private final KeyPackageStore keyPackages;
  private final KeyPackageValidator validator;
  private final CommitRate rate;

  public CommitPolicing(ConvoStore convos, RosterStore rosters, GroupStateStore states, KeyPackageStore keyPackages,
      Clock clock, Config.Limits limits, IntegritySettings settings) {
    this.states = states;
    this.keyPackages = keyPackages;
    this.rate = new CommitRate(settings.commitsPerMemberPerMinute(), clock);
    this.convos = convos;
    this.rosters = rosters;
    this.validator = new KeyPackageValidator(clock, KeyPackagePolicy.defaults()
        .withMaxLifetime(limits.keyPackageMaxLifetime()).withMaxSize(limits.keyPackageMaxBytes()));
  }

  /** A new conversation: under {@code public} its roster is the creator at leaf 0, exact from epoch 0. */
  public void created(Handle h, ConvoId id, Did creator, HandshakePolicy policy) {
    if (policy == HandshakePolicy.PUBLIC) {
      rosters.replaceAll(h, id, LeafRoster.creator(creator));
    }
  }

  /**
   * A group reset: the new group starts like a new conversation (under {@code public}, the resetting admin at
   * leaf 0, exact from epoch 0); the old group's stored proposals are dropped.
   */
  public void reset(Handle h, ConvoId id, Did resetter, HandshakePolicy policy) {
    rosters.purgeProposals(h, id);
    states.delete(h, id);
    created(h, id, resetter, policy);
  }

  /**
   * Checks {@code commit} for {@code path} on the locked conversation; throws the API error if it is refused.
   *
   * @param addDids      the DIDs the call adds (addMembers/createConvo), else empty
   * @param removeTarget the DID removeMember names, else null
   * @param groupInfo    the GroupInfo uploaded with the commit (for the epoch it makes), else null
   */
  public Verdict check(Handle h, ConvoStore.Convo convo, Did caller, MlsInput.GroupMessage commit, Path path,
      Set<Did> addDids, Did removeTarget, GroupInfo groupInfo) {
    rate.check(convo.id(), caller);
    PublicMessage pm = commit.publicMessage();
    CipherSuite suite = CipherSuite.byId(convo.cipherSuite()).orElseThrow();
    if (convo.handshakePolicy() == HandshakePolicy.ANY) {
      if (pm != null) {
        checkVisible(pm, path, suite, addDids);
      }
      return Verdict.UNTRACKED;
    }
    if (pm == null) {
      throw invalid(path.method + ": this conversation's handshake policy is public: a commit must be a PublicMessage");
    }
    if (!convo.rosterKnown()) {
      throw new XrpcException(XrpcError.Forbidden,
          "the server does not know this group's tree at epoch " + convo.epoch() + ": reset the group");
    }
    requireFraming(pm, suite, path.method);
    LeafRoster before = rosters.load(h, new ConvoId(convo.id()));
    Sender sender = pm.sender();
    Long senderLeaf = null;
    switch (sender.type()) {
      case MEMBER -> {
        if (path == Path.EXTERNAL_COMMIT) {
          throw invalid(path.method + ": an external commit is from sender type new_member_commit");
        }
        senderLeaf = sender.index();
        requireOwnLeaf(before, senderLeaf, caller, "the commit's sender");
      }
      case NEW_MEMBER_COMMIT -> {
        if (path != Path.EXTERNAL_COMMIT) {
          throw invalid(path.method + ": an external commit (new_member_commit) goes through processExternalCommit");
        }
      }
      default -> throw invalid(path.method + ": sender type " + sender.type() + " may not commit");
    }
    List<Resolved> proposals = resolve(h, convo, pm.commit(), senderLeaf, caller, path);
    LeafRoster after = before.copy();
    // RFC 9420 §12.3: Updates, then Removes, then Adds, then the committer's path.
    int externalInits = 0;
    List<Long> removed = new ArrayList<>();
    for (Resolved r : proposals) {
      if (!path.accepts.contains(r.proposal().type())) {
        throw refused(path, r.proposal().type());
      }
      if (r.proposal() instanceof Proposal.Update u) {
        if (r.proposerLeaf() == null) {
          throw invalid(path.method + ": an Update must come from a member");
        }
        Did owner = before.at(r.proposerLeaf()).orElseThrow(() -> invalid(path.method + ": Update from blank leaf")).did();
        requireIdentity(u.leafNode(), owner, "an Update of leaf " + r.proposerLeaf());
        requireDeviceKey(h, owner, u.leafNode(), before.at(r.proposerLeaf()).orElse(null), "an Update of leaf " + r.proposerLeaf());
        after.replace(r.proposerLeaf(), new LeafRoster.Leaf(owner, u.leafNode().signatureKey()));
      }
      if (r.proposal() instanceof Proposal.ExternalInit) {
        externalInits++;
      }
    }
    for (Resolved r : proposals) {
      if (r.proposal() instanceof Proposal.Remove rm) {
        LeafRoster.Leaf target = before.at(rm.removed())
            .orElseThrow(() -> invalid(path.method + ": the commit removes leaf " + rm.removed() + ", which is blank"));
        checkRemove(h, convo, caller, path, rm.removed(), target, removeTarget);
        if (after.at(rm.removed()).isEmpty()) {
          throw invalid(path.method + ": the commit removes leaf " + rm.removed() + " twice");
        }
        after.remove(rm.removed());
        removed.add(rm.removed());
      }
    }
    for (Resolved r : proposals) {
      if (r.proposal() instanceof Proposal.Add add) {
        Did did = checkAdd(add.keyPackage(), suite, addDids, path.method);
        after.add(new LeafRoster.Leaf(did, add.keyPackage().leafNode().signatureKey()));
      }
    }
    switch (path) {
      case ADD_MEMBERS, RESET_GROUP -> {
        if (proposals.stream().noneMatch(r -> r.proposal() instanceof Proposal.Add)) {
          throw invalid(path.method + ": the commit adds no member");
        }
      }
      case REMOVE_MEMBER -> {
        List<Long> targetLeaves = before.leavesOf(removeTarget);
        if (targetLeaves.isEmpty()) {
          throw invalid(path.method + ": targetDid has no leaf in the group");
        }
        if (!new TreeSet<>(removed).equals(new TreeSet<>(targetLeaves))) {
          throw new XrpcException(XrpcError.Forbidden, path.method + ": the commit removes leaves " + new TreeSet<>(removed)
              + " but targetDid's leaves are " + targetLeaves);
        }
      }
      case EXTERNAL_COMMIT -> {
        if (externalInits != 1) {
          throw invalid(path.method + ": an external commit has exactly one ExternalInit proposal");
        }
      }
      case SEND_MESSAGE -> { }
    }
    Commit c = pm.commit();
    if (c.path() != null) {
      LeafNode leaf = c.path().leafNode();
      requireIdentity(leaf, caller, "the commit's UpdatePath leaf");
      requireDeviceKey(h, caller, leaf, senderLeaf == null ? null : before.at(senderLeaf).orElse(null),
          "the commit's UpdatePath leaf");
      if (leaf.source() != LeafNode.Source.COMMIT) {
        throw invalid(path.method + ": the UpdatePath leaf's source is " + leaf.source().rfcName() + ", not commit");
      }
      LeafRoster.Leaf mine = new LeafRoster.Leaf(caller, leaf.signatureKey());
      if (senderLeaf != null) {
        after.replace(senderLeaf, mine);
      } else {
        after.add(mine);
      }
    } else if (senderLeaf == null || pathRequired(proposals)) {
      throw invalid(path.method + ": this commit needs an UpdatePath (RFC 9420 §12.4)");
    }
    PublicGroupState next = verifyState(h, convo, pm, proposals, groupInfo, after, path);
    return new Verdict(before, after, next);
  }

  /**
   * The public group state after {@code pm}: the stored state of this epoch with the commit applied (its
   * signatures and path verified, the GroupInfo checked against the result); at epoch 0 of a group, the state the
   * creator's GroupInfo for epoch 1 describes (the bootstrap, docs/conversations.md); null for a {@code public}
   * conversation from before V15 that is past epoch 0 (roster checks only).
   */
  private PublicGroupState verifyState(Handle h, ConvoStore.Convo convo, PublicMessage pm, List<Resolved> proposals,
      GroupInfo gi, LeafRoster after, Path path) {
    ConvoId id = new ConvoId(convo.id());
    Optional<PublicGroupState> state = states.load(h, id, HexFormat.of().formatHex(pm.groupId()), convo.epoch());
    if (state.isPresent()) {
      List<PublicGroupState.Proposed> resolved = proposals.stream()
          .map(r -> new PublicGroupState.Proposed(r.proposal(), r.proposerLeaf() == null ? -1 : r.proposerLeaf()))
          .toList();
      PublicGroupState next;
      try {
        next = state.get().applyCommit(pm, resolved);
      } catch (PublicTreeException e) {
        throw refusedBy(path.method, e);
      }
      if (gi != null) {
        checkGroupInfo(next, gi, path.method);
      }
      return next;
    }
    if (convo.epoch() != 0) {
      if (states.exists(h, id)) {
        // Never silently stop verifying: a stored state of another epoch means the server lost track.
        throw new XrpcException(XrpcError.Forbidden,
            "the server's public group state is not at epoch " + convo.epoch() + ": reset the group");
      }
      return null;
    }
    if (gi == null) {
      throw XrpcException.invalidRequest(path.method + ": under the public handshake policy the first commit of a "
          + "group comes with a groupInfo for epoch 1 that carries the ratchet_tree extension");
    }
    PublicGroupState first;
    try {
      // The tree is the roster's width at most: refuse a bigger one before verifying any of its leaves.
      first = PublicGroupState.fromGroupInfo(gi, (int) after.width());
    } catch (PublicTreeException e) {
      throw invalid(path.method + ": groupInfo: " + e.getMessage());
    }
    for (long i = 0; i < Math.max(first.leafCount(), after.width()); i++) {
      Optional<LeafNode> leaf = first.leaf(i);
      Optional<LeafRoster.Leaf> known = after.at(i);
      boolean same = leaf.isPresent() == known.isPresent() && (leaf.isEmpty()
          || leaf.get().credential() instanceof Credential.Basic b
          && java.util.Arrays.equals(b.identity(), known.get().did().value().getBytes(StandardCharsets.UTF_8))
          && (known.get().signatureKey() == null || java.util.Arrays.equals(known.get().signatureKey(), leaf.get().signatureKey())));
      if (!same) {
        throw invalid(path.method + ": groupInfo: leaf " + i + " of its ratchet tree is not the leaf the commit makes "
            + "(the creator at leaf 0, then the added KeyPackages)");
      }
      if (known.isPresent() && known.get().signatureKey() == null) {
        requireDeviceKey(h, known.get().did(), leaf.get(), null, "leaf " + i + " of the groupInfo's ratchet tree");
        after.replace(i, new LeafRoster.Leaf(known.get().did(), leaf.get().signatureKey()));
      }
    }
    return first;
  }

  /**
   * An uploaded GroupInfo (updateGroupInfo) for the conversation's current epoch must describe the state the server
   * computed, where it keeps one: a member cannot plant a GroupInfo that lies to external joiners.
   */
  public void checkGroupInfo(Handle h, ConvoStore.Convo convo, GroupInfo gi, String method) {
    if (convo.handshakePolicy() != HandshakePolicy.PUBLIC) {
      return;
    }
    states.load(h, new ConvoId(convo.id()), HexFormat.of().formatHex(gi.groupId()), gi.epoch())
        .ifPresent(s -> checkGroupInfo(s, gi, method));
  }

  private static void checkGroupInfo(PublicGroupState state, GroupInfo gi, String method) {
    try {
      state.checkGroupInfo(gi);
    } catch (PublicTreeException e) {
      throw invalid(method + ": " + e.getMessage());
    }
  }

  /** A signature that does not verify is 403 {@code Forbidden}; content inconsistent with the tree is 400. */
  private static XrpcException refusedBy(String method, PublicTreeException e) {
    return e.kind() == PublicTreeException.Kind.SIGNATURE
        ? new XrpcException(XrpcError.Forbidden, method + ": " + e.getMessage())
        : invalid(method + ": " + e.getMessage());
  }

  /**
   * A leaf a DID installs (UpdatePath, Update, external join) keeps the signature key of the leaf it replaces, or
   * carries one of the DID's device keys (signature keys of its uploaded KeyPackages) when the server knows any.
   */
  private void requireDeviceKey(Handle h, Did did, LeafNode leaf, LeafRoster.Leaf replaced, String what) {
    if (replaced != null && replaced.signatureKey() != null
        && java.util.Arrays.equals(replaced.signatureKey(), leaf.signatureKey())) {
      return;
    }
    List<byte[]> devices = keyPackages.deviceSignatureKeys(h, did);
    if (!devices.isEmpty() && devices.stream().noneMatch(k -> java.util.Arrays.equals(k, leaf.signatureKey()))) {
      throw new XrpcException(XrpcError.Forbidden, what + " carries a signature key that is none of "
          + did.value() + "'s devices (the signature keys of its KeyPackages)");
    }
  }

  /** Records the roster after an accepted commit (the conversation moved to {@code convo.epoch() + 1}). */
  public void accepted(Handle h, ConvoStore.Convo convo, Did caller, Verdict v) {
    rate.accepted(convo.id(), caller);
    ConvoId id = new ConvoId(convo.id());
    if (v.after() == null) {
      if (convo.rosterEpoch() != null) {
        convos.setRosterEpoch(h, id, null);
      }
      return;
    }
    rosters.save(h, id, v.before(), v.after());
    if (v.next() != null) {
      states.save(h, id, v.next());
    }
    convos.setRosterEpoch(h, id, convo.epoch() + 1);
    rosters.purgeProposalsBefore(h, id, convo.epoch() + 1);
  }

  /**
   * Checks a proposal sent through sendMessage. Under {@code public} it must be a PublicMessage from the
   * caller's leaf, of a type a commit path takes; it is returned for storing so a commit can reference it.
   * Under {@code any} nothing is stored (null).
   */
  public RosterStore.StoredProposal checkProposal(Handle h, ConvoStore.Convo convo, Did caller, MlsInput.GroupMessage msg) {
    if (convo.handshakePolicy() == HandshakePolicy.ANY) {
      return null;
    }
    PublicMessage pm = msg.publicMessage();
    if (pm == null) {
      throw invalid("sendMessage: this conversation's handshake policy is public: a proposal must be a PublicMessage");
    }
    if (pm.sender().type() != Sender.Type.MEMBER) {
      throw invalid("sendMessage: only members' proposals are accepted under the public policy");
    }
    if (!convo.rosterKnown()) {
      throw new XrpcException(XrpcError.Forbidden,
          "the server does not know this group's tree at epoch " + convo.epoch() + ": reset the group");
    }
    CipherSuite suite = CipherSuite.byId(convo.cipherSuite()).orElseThrow();
    requireFraming(pm, suite, "sendMessage");
    LeafRoster roster = rosters.load(h, new ConvoId(convo.id()));
    requireOwnLeaf(roster, pm.sender().index(), caller, "the proposal's sender");
    Proposal p = pm.proposal();
    Optional<PublicGroupState> state = states.load(h, new ConvoId(convo.id()), HexFormat.of().formatHex(pm.groupId()),
        convo.epoch());
    if (state.isPresent() && pm.epoch() < convo.epoch()) {
      throw MessageLog.stale(convo, "sendMessage: the proposal is for epoch " + pm.epoch() + "; only proposals for the "
          + "current epoch " + convo.epoch() + " can be verified and committed");
    }
    if (state.isPresent() && pm.epoch() == convo.epoch()) {
      try {
        state.get().verifyProposal(pm);
      } catch (PublicTreeException e) {
        throw refusedBy("sendMessage", e);
      }
    }
    switch (p) {
      case Proposal.Update u -> {
        requireIdentity(u.leafNode(), caller, "an Update");
        requireDeviceKey(h, caller, u.leafNode(), roster.at(pm.sender().index()).orElse(null), "an Update");
      }
      case Proposal.Remove rm -> roster.at(rm.removed())
          .orElseThrow(() -> invalid("sendMessage: the proposal removes leaf " + rm.removed() + ", which is blank"));
      case Proposal.PreSharedKey psk -> { }
      default -> throw invalid("sendMessage: a " + Proposal.typeName(p.type())
          + " proposal is not accepted" + (p instanceof Proposal.Add ? " (add members with addMembers)" : ""));
    }
    byte[] raw = msg.raw();
    int tail = pm.membershipTag() == null ? 0 : MlsWriter.varintSize(pm.membershipTag().length) + pm.membershipTag().length;
    byte[] ref = suite.refHash(PROPOSAL_REF_LABEL, raw, 2, raw.length - 2 - tail);
    return new RosterStore.StoredProposal(HexFormat.of().formatHex(ref), pm.epoch(), caller, pm.sender().index(), raw);
  }

  public void proposalAccepted(Handle h, ConvoId id, RosterStore.StoredProposal p) {
    if (p != null) {
      rosters.insertProposal(h, id, p);
    }
  }

  // ---- rules ------------------------------------------------------------------------------------

  /** Under {@code any}: what a PublicMessage commit shows is still checked. */
  private void checkVisible(PublicMessage pm, Path path, CipherSuite suite, Set<Did> addDids) {
    if (pm.commit() == null) {
      return;
    }
    for (ProposalOrRef p : pm.commit().proposals()) {
      if (p instanceof ProposalOrRef.Inline in) {
        int type = in.proposal().type();
        if (path == Path.REMOVE_MEMBER && type != Proposal.REMOVE && type != Proposal.PSK && type != Proposal.UPDATE) {
          throw refused(path, type);
        }
        if ((path == Path.ADD_MEMBERS || path == Path.RESET_GROUP) && in.proposal() instanceof Proposal.Add add) {
          checkAdd(add.keyPackage(), suite, addDids, path.method);
        }
      }
    }
  }

  private List<Resolved> resolve(Handle h, ConvoStore.Convo convo, Commit commit, Long senderLeaf, Did caller, Path path) {
    List<Resolved> out = new ArrayList<>();
    for (ProposalOrRef p : commit.proposals()) {
      switch (p) {
        case ProposalOrRef.Inline in -> out.add(new Resolved(in.proposal(), senderLeaf, caller));
        case ProposalOrRef.Reference ref -> {
          String hex = HexFormat.of().formatHex(ref.ref());
          RosterStore.StoredProposal stored = rosters.proposal(h, new ConvoId(convo.id()), hex)
              .filter(s -> s.epoch() == convo.epoch())
              .orElseThrow(() -> invalid(path.method + ": the commit references proposal " + hex
                  + ", which this server has not seen in epoch " + convo.epoch()
                  + " (a referenced proposal must have been sent with sendMessage as a PublicMessage)"));
          out.add(new Resolved(decodeStored(stored), stored.senderLeaf(), stored.sender()));
        }
      }
    }
    return out;
  }

  private static Proposal decodeStored(RosterStore.StoredProposal stored) {
    try {
      MlsMessage m = MlsMessage.decode(stored.message());
      if (m instanceof PublicMessage p && p.contentType() == ContentType.PROPOSAL) {
        return p.proposal();
      }
    } catch (MlsDecodeException e) {
      // fall through
    }
    throw new IllegalStateException("stored proposal " + stored.ref() + " does not decode");
  }

  private void checkRemove(Handle h, ConvoStore.Convo convo, Did caller, Path path, long leaf, LeafRoster.Leaf target,
      Did removeTarget) {
    switch (path) {
      case REMOVE_MEMBER -> {
        if (!target.did().equals(removeTarget)) {
          throw new XrpcException(XrpcError.Forbidden, path.method + ": the commit removes leaf " + leaf
              + ", which is not targetDid's");
        }
      }
      case EXTERNAL_COMMIT -> {
        if (!target.did().equals(caller)) {
          throw new XrpcException(XrpcError.Forbidden, path.method + ": an external commit may remove only the caller's own leaf");
        }
      }
      case SEND_MESSAGE -> {
        boolean active = convos.member(h, new ConvoId(convo.id()), target.did()).map(ConvoStore.Member::active).orElse(false);
        if (active && !target.did().equals(caller)) {
          throw new XrpcException(XrpcError.Forbidden, path.method + ": leaf " + leaf
              + " belongs to an active member: remove members with removeMember");
        }
      }
      case ADD_MEMBERS -> throw refused(path, Proposal.REMOVE);
    }
  }

  /** An added KeyPackage: valid like an upload, in the conversation's suite, naming a DID of the call. */
  private Did checkAdd(KeyPackage kp, CipherSuite suite, Set<Did> addDids, String method) {
    if (!(kp.leafNode().credential() instanceof Credential.Basic basic)) {
      throw new XrpcException(XrpcError.InvalidKeyPackage, method + ": an added KeyPackage's credential is not basic");
    }
    String identity = basic.identityString();
    Did did = didOf(identity).filter(addDids::contains).orElseThrow(() -> new XrpcException(
        XrpcError.InvalidKeyPackage, method + ": the commit adds a KeyPackage of \"" + abbreviate(identity)
        + "\", which is not a DID the call adds"));
    if (kp.cipherSuite() != suite.id()) {
      throw new XrpcException(XrpcError.InvalidCipherSuite, method + ": an added KeyPackage is not in the conversation's suite");
    }
    try {
      validator.validate(kp, identity);
    } catch (InvalidKeyPackageException e) {
      throw new XrpcException(XrpcError.InvalidKeyPackage, method + ": an added KeyPackage is invalid: " + e.getMessage());
    }
    return did;
  }

  private static void requireOwnLeaf(LeafRoster roster, long leaf, Did caller, String what) {
    LeafRoster.Leaf l = roster.at(leaf).orElseThrow(() -> invalid(what + " is leaf " + leaf + ", which is blank"));
    if (!l.did().equals(caller)) {
      throw new XrpcException(XrpcError.Forbidden, what + " is leaf " + leaf + ", which is not the caller's");
    }
  }

  private static void requireIdentity(LeafNode leaf, Did did, String what) {
    if (!(leaf.credential() instanceof Credential.Basic basic)
        || !java.util.Arrays.equals(basic.identity(), did.value().getBytes(StandardCharsets.UTF_8))) {
      throw new XrpcException(XrpcError.Forbidden, what + " carries a credential that is not " + did.value());
    }
  }

  /** RFC 9420 §12.4: a path is required for an empty commit and for Update, Remove, ExternalInit, GCE. */
  private static boolean pathRequired(List<Resolved> proposals) {
    return proposals.isEmpty() || proposals.stream().map(r -> r.proposal().type()).anyMatch(t ->
        t == Proposal.UPDATE || t == Proposal.REMOVE || t == Proposal.EXTERNAL_INIT || t == Proposal.GROUP_CONTEXT_EXTENSIONS);
  }

  /** Tag sizes a PublicMessage of this suite must have (the MACs are the suite's hash length). */
  private static void requireFraming(PublicMessage pm, CipherSuite suite, String method) {
    int mac = suite.hash().length();
    if (pm.membershipTag() != null && pm.membershipTag().length != mac) {
      throw invalid(method + ": membership_tag is " + pm.membershipTag().length + " bytes, not " + mac);
    }
    if (pm.confirmationTag() != null && pm.confirmationTag().length != mac) {
      throw invalid(method + ": confirmation_tag is " + pm.confirmationTag().length + " bytes, not " + mac);
    }
    int sig = switch (suite.signatureScheme()) {
      case ED25519 -> 64;
      case ED448 -> 114;
      default -> -1;
    };
    if (sig > 0 && pm.signature().length != sig) {
      throw invalid(method + ": the signature is " + pm.signature().length + " bytes, not " + sig);
    }
  }

  private static XrpcException refused(Path path, int type) {
    String hint = switch (type) {
      case Proposal.ADD -> " (add members with addMembers)";
      case Proposal.REMOVE -> path == Path.ADD_MEMBERS || path == Path.RESET_GROUP ? " (remove members with removeMember)" : "";
      default -> "";
    };
    return invalid(path.method + ": a commit here may not carry a " + Proposal.typeName(type) + " proposal" + hint);
  }

  static XrpcException invalid(String message) {
    return new XrpcException(XrpcError.InvalidMlsMessage, message);
  }

  private static java.util.Optional<Did> didOf(String identity) {
    try {
      return java.util.Optional.of(new Did(identity));
    } catch (IllegalArgumentException e) {
      return java.util.Optional.empty();
    }
  }

  private static String abbreviate(String s) {
    return s.length() > 64 ? s.substring(0, 64) + "…" : s;
  }
}
