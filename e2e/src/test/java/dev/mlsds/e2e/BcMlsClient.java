package dev.mlsds.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.LifeTime;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.Capabilities;
import org.bouncycastle.mls.codec.ContentType;
import org.bouncycastle.mls.codec.Credential;
import org.bouncycastle.mls.codec.Extension;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.Proposal;
import org.bouncycastle.mls.codec.WireFormat;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.Group;

/**
 * One device on Bouncy Castle's MLS implementation ({@code bcmls-jdk18on} 1.84, {@code org.bouncycastle.mls.protocol.Group}),
 * in process: an MLS client that shares no code with the server or with ts-mls. Same shape as the Node agent (one
 * identity, one Ed25519 signature key for all its KeyPackages and leaves, suite 1 only, all state in memory), with typed
 * methods. Every MLS message in or out is a full {@code MLSMessage} (version, wire_format, body).
 *
 * <p>What the wrapper adds to bcmls, and why:
 * <ul>
 *   <li><b>Lifetimes.</b> bcmls's {@code new LifeTime()} is {@code (0, 2^64-1)}, which the server rejects (over 90
 *       days), and it has no constructor taking bounds; a real one ({@code not_before = now - 60 s},
 *       {@code not_after = now + 30 days}) is decoded from its 16-byte wire form.</li>
 *   <li><b>Pending commits.</b> {@code Group.commit} returns the successor state without touching the current one;
 *       the wrapper keeps it as the pending state until {@link #applyPending} (after the server's 200), or until the
 *       commit's own bytes come back from the server ({@code Group.handle} refuses our own commits unless given
 *       that cached successor).</li>
 *   <li><b>Own messages.</b> The server echoes a device's own messages back in the log; the wrapper recognises them
 *       by their bytes and reports them as own instead of processing them, as the Node agent does.</li>
 *   <li><b>Past epochs.</b> A {@code Group} keeps only its own epoch's keys; the wrapper keeps the last
 *       {@value #PAST_EPOCHS} states so an application message sequenced after a commit still decrypts.</li>
 *   <li><b>Routing.</b> bcmls exposes no group id for PublicMessage/PrivateMessage, so it is read from the framing.</li>
 * </ul>
 * Commits are PublicMessages (bcmls's {@code MessageOptions} default), Add-only commits carry no path, and every
 * GroupInfo (in the Welcome and the one for the server) carries the ratchet tree, as the Node agent's do.
 */
final class BcMlsClient {
  static final short SUITE_ID = MlsCipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final long DEFAULT_LIFETIME_SECONDS = 30L * 24 * 3600;
  static final long NOT_BEFORE_SKEW_SECONDS = 60;
  static final int PAST_EPOCHS = 4;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final HexFormat HEX = HexFormat.of();

  /** Any failure of an MLS operation: bcmls's exceptions, wrapped with what was being done. */
  static final class MlsException extends RuntimeException {
    MlsException(String message) {
      super(message);
    }

    MlsException(String message, Throwable cause) {
      super(message + ": " + cause, cause);
    }
  }

  /** A KeyPackage as published: the MLSMessage bytes and its KeyPackageRef (lowercase hex). */
  record OwnKeyPackage(byte[] message, String ref) {}

  /** A commit created but not yet merged: what goes to the server. {@code welcome} is null when nobody was added. */
  record PendingCommit(byte[] commit, byte[] welcome, byte[] groupInfo, long epoch, long newEpoch) {}

  record Joined(String groupId, long epoch, String keyPackageRef, int leafIndex) {}

  record Encrypted(byte[] message, long epoch) {}

  record Member(int leafIndex, String identity, byte[] signaturePublicKey) {}

  /**
   * What {@link #process} made of a message. {@code kind} is application, commit or proposal; {@code own} means it
   * was this client's own message coming back; {@code discardedPending} means another member's commit won and ours
   * was dropped.
   */
  record Processed(String kind, byte[] plaintext, long epoch, boolean own, boolean alreadyApplied, boolean discardedPending) {}

  private record KeyPackageSecrets(KeyPackage keyPackage, AsymmetricCipherKeyPair init, AsymmetricCipherKeyPair encryption) {}

  private static final class GroupState {
    Group group;
    Group pending;
    byte[] pendingCommit;
    /** Recent states by epoch, newest last (for application messages of a past epoch). */
    final Deque<Group> past = new ArrayDeque<>();
    /** Commits this client made and merged (SHA-256 of the bytes), to recognise them when they come back. */
    final Set<ByteBuffer> appliedOwnCommits = new HashSet<>();
    final Set<ByteBuffer> sent = new HashSet<>();

    void advance(Group next) {
      past.addLast(group);
      while (past.size() > PAST_EPOCHS) {
        past.removeFirst();
      }
      group = next;
      pending = null;
      pendingCommit = null;
    }
  }

  final String identity;
  private final MlsCipherSuite suite;
  private final AsymmetricCipherKeyPair signatureKey;
  private final byte[] signaturePrivate;
  private final byte[] signaturePublic;
  private final Map<String, KeyPackageSecrets> keyPackages = new LinkedHashMap<>();
  private final Map<String, GroupState> groups = new HashMap<>();

  /** A device whose basic credential's identity is the UTF-8 bytes of {@code identity} (a DID), with a new Ed25519 key. */
  BcMlsClient(String identity) {
    this.identity = identity;
    try {
      this.suite = MlsCipherSuite.getSuite(SUITE_ID);
    } catch (Exception e) {
      throw new MlsException("bcmls lacks suite " + SUITE_ID, e);
    }
    this.signatureKey = suite.generateSignatureKeyPair();
    this.signaturePrivate = suite.serializeSignaturePrivateKey(signatureKey.getPrivate());
    this.signaturePublic = suite.serializeSignaturePublicKey(signatureKey.getPublic());
  }

  byte[] signaturePublicKey() {
    return signaturePublic.clone();
  }

  // ---- KeyPackages -----------------------------------------------------------------------------------

  /** {@code count} new KeyPackages with lifetime (now - 60 s, now + lifetimeSeconds); their private keys are kept. */
  List<OwnKeyPackage> keyPackages(int count, long lifetimeSeconds) {
    long now = Instant.now().getEpochSecond();
    return keyPackages(count, now - NOT_BEFORE_SKEW_SECONDS, now + lifetimeSeconds);
  }

  /** KeyPackages with an explicit lifetime (unix seconds), e.g. to test the server's rejections. */
  List<OwnKeyPackage> keyPackages(int count, long notBefore, long notAfter) {
    List<OwnKeyPackage> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      try {
        AsymmetricCipherKeyPair init = suite.getHPKE().generatePrivateKey();
        AsymmetricCipherKeyPair encryption = suite.getHPKE().generatePrivateKey();
        KeyPackage kp = new KeyPackage(suite, suite.getHPKE().serializePublicKey(init.getPublic()),
            leafNode(encryption, notBefore, notAfter), new ArrayList<>(), signaturePrivate);
        String ref = ref(kp);
        keyPackages.put(ref, new KeyPackageSecrets(kp, init, encryption));
        out.add(new OwnKeyPackage(MLSOutputStream.encode(MLSMessage.keyPackage(kp)), ref));
      } catch (Exception e) {
        throw new MlsException("cannot make a KeyPackage", e);
      }
    }
    return out;
  }

  /** A key_package-sourced leaf: basic credential, bcmls's default capabilities, no extensions, a real lifetime. */
  private LeafNode leafNode(AsymmetricCipherKeyPair encryption, long notBefore, long notAfter) throws Exception {
    return new LeafNode(suite, suite.getHPKE().serializePublicKey(encryption.getPublic()), signaturePublic,
        Credential.forBasic(identity.getBytes(java.nio.charset.StandardCharsets.UTF_8)), new Capabilities(),
        lifetime(notBefore, notAfter), new ArrayList<>(), signaturePrivate);
  }

  /** bcmls 1.84 builds a LifeTime only as (0, 2^64-1) or from its encoding: struct { uint64 not_before; uint64 not_after; }. */
  static LifeTime lifetime(long notBefore, long notAfter) throws IOException {
    byte[] wire = ByteBuffer.allocate(16).putLong(notBefore).putLong(notAfter).array();
    return new LifeTime(new MLSInputStream(wire));
  }

  /** KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage), as bcmls computes it. */
  private String ref(KeyPackage kp) throws IOException {
    return HEX.formatHex(suite.refHash(MLSOutputStream.encode(kp), "MLS 1.0 KeyPackage Reference"));
  }

  // ---- groups ----------------------------------------------------------------------------------------

  /** A new group at epoch 0 with only this device in it. */
  long createGroup(String groupIdHex) {
    if (groups.containsKey(groupIdHex)) {
      throw new MlsException("group " + groupIdHex + " exists");
    }
    try {
      AsymmetricCipherKeyPair leafKey = suite.getHPKE().generatePrivateKey();
      long now = Instant.now().getEpochSecond();
      LeafNode leaf = leafNode(leafKey, now - NOT_BEFORE_SKEW_SECONDS, now + DEFAULT_LIFETIME_SECONDS);
      GroupState s = new GroupState();
      s.group = new Group(HEX.parseHex(groupIdHex), suite, leafKey, signaturePrivate, leaf, new ArrayList<>());
      groups.put(groupIdHex, s);
      return s.group.getEpoch();
    } catch (Exception e) {
      throw new MlsException("cannot create group " + groupIdHex, e);
    }
  }

  /** A commit adding the members of these KeyPackages (MLSMessage bytes), with its Welcome and GroupInfo; pending. */
  PendingCommit addMembers(String groupIdHex, List<byte[]> keyPackageMessages) {
    List<Proposal> adds = new ArrayList<>();
    for (byte[] m : keyPackageMessages) {
      MLSMessage msg = decode(m, "KeyPackage");
      if (msg.wireFormat != WireFormat.mls_key_package) {
        throw new MlsException("not a KeyPackage: wire format " + msg.wireFormat);
      }
      try {
        adds.add(Proposal.add(msg.keyPackage));
      } catch (IOException e) {
        throw new MlsException("cannot make an Add proposal", e);
      }
    }
    return commit(groupIdHex, adds, false);
  }

  /** A key update: a commit with no proposals and a full UpdatePath; pending. */
  PendingCommit update(String groupIdHex) {
    return commit(groupIdHex, List.of(), true);
  }

  private PendingCommit commit(String groupIdHex, List<Proposal> proposals, boolean forcePath) {
    GroupState s = state(groupIdHex);
    if (s.pending != null) {
      throw new MlsException("a commit is already pending in " + groupIdHex);
    }
    try {
      byte[] leafSecret = new byte[suite.getKDF().getHashLength()];
      RANDOM.nextBytes(leafSecret);
      // inlineTree: the Welcome's GroupInfo carries the ratchet tree; MessageOptions(): a PublicMessage commit.
      Group.GroupWithMessage gwm = s.group.commit(new Secret(leafSecret),
          new Group.CommitOptions(new ArrayList<>(proposals), true, forcePath, null), new Group.MessageOptions(),
          new Group.CommitParameters(Group.NORMAL_COMMIT_PARAMS));
      byte[] commit = MLSOutputStream.encode(gwm.message);
      byte[] welcome = null;
      if (proposals.stream().anyMatch(p -> p.getProposalType() == org.bouncycastle.mls.codec.ProposalType.ADD)) {
        MLSMessage w = new MLSMessage(WireFormat.mls_welcome);
        w.welcome = gwm.message.welcome;
        welcome = MLSOutputStream.encode(w);
      }
      byte[] groupInfo = MLSOutputStream.encode(gwm.group.getGroupInfo(true));
      s.pending = gwm.group;
      s.pendingCommit = commit;
      return new PendingCommit(commit, welcome, groupInfo, s.group.getEpoch(), gwm.group.getEpoch());
    } catch (MlsException e) {
      throw e;
    } catch (Exception e) {
      throw new MlsException("cannot commit in " + groupIdHex, e);
    }
  }

  /** Merges the pending commit (the server accepted it); returns the new epoch. */
  long applyPending(String groupIdHex) {
    GroupState s = state(groupIdHex);
    if (s.pending == null) {
      throw new MlsException("no pending commit in " + groupIdHex);
    }
    s.appliedOwnCommits.add(digest(s.pendingCommit));
    s.advance(s.pending);
    return s.group.getEpoch();
  }

  /** Drops the pending commit (the server rejected it). */
  boolean discardPending(String groupIdHex) {
    GroupState s = state(groupIdHex);
    boolean had = s.pending != null;
    s.pending = null;
    s.pendingCommit = null;
    return had;
  }

  /** Joins from a Welcome (MLSMessage bytes) made for one of this client's KeyPackages; the tree comes from its GroupInfo. */
  Joined join(byte[] welcomeMessage) {
    return join(welcomeMessage, null);
  }

  /** Joins with the ratchet tree passed out of band (TLS-encoded), for Welcomes without the ratchet_tree extension. */
  Joined join(byte[] welcomeMessage, byte[] ratchetTree) {
    MLSMessage msg = decode(welcomeMessage, "Welcome");
    if (msg.wireFormat != WireFormat.mls_welcome) {
      throw new MlsException("not a Welcome: wire format " + msg.wireFormat);
    }
    try {
      for (Iterator<Map.Entry<String, KeyPackageSecrets>> it = keyPackages.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<String, KeyPackageSecrets> e = it.next();
        KeyPackageSecrets kp = e.getValue();
        if (msg.welcome.find(kp.keyPackage()) < 0) {
          continue;
        }
        TreeKEMPublicKey tree = null;
        if (ratchetTree != null) {
          tree = (TreeKEMPublicKey) MLSInputStream.decode(ratchetTree, TreeKEMPublicKey.class);
          tree.setSuite(suite);
        }
        Group group = new Group(suite.getHPKE().serializePrivateKey(kp.init().getPrivate()), kp.encryption(), signaturePrivate,
            kp.keyPackage(), msg.welcome, tree, new HashMap<>(), new HashMap<>());
        String g = HEX.formatHex(group.getGroupID());
        GroupState s = new GroupState();
        s.group = group;
        groups.put(g, s);
        it.remove(); // an ordinary KeyPackage is used once: its private keys go
        return new Joined(g, group.getEpoch(), e.getKey(), group.getIndex().value());
      }
    } catch (MlsException e) {
      throw e;
    } catch (Exception e) {
      throw new MlsException("cannot join from the Welcome", e);
    }
    throw new MlsException("the Welcome is for none of this client's KeyPackages");
  }

  // ---- messages --------------------------------------------------------------------------------------

  /** An application message (PrivateMessage) at the current epoch. */
  Encrypted encrypt(String groupIdHex, byte[] plaintext) {
    GroupState s = state(groupIdHex);
    try {
      byte[] out = MLSOutputStream.encode(s.group.protect(new byte[0], plaintext, 0));
      s.sent.add(digest(out));
      return new Encrypted(out, s.group.getEpoch());
    } catch (Exception e) {
      throw new MlsException("cannot encrypt in " + groupIdHex, e);
    }
  }

  /** Processes one message from the group's log: decrypts an application message, or applies a commit or proposal. */
  Processed process(String groupIdHex, byte[] message) {
    MLSMessage msg = decode(message, "message");
    if (msg.wireFormat != WireFormat.mls_public_message && msg.wireFormat != WireFormat.mls_private_message) {
      throw new MlsException("not a PublicMessage or PrivateMessage: wire format " + msg.wireFormat);
    }
    String inMessage = HEX.formatHex(framedGroupId(message));
    if (groupIdHex != null && !groupIdHex.equalsIgnoreCase(inMessage)) {
      throw new MlsException("the message is for group " + inMessage + ", not " + groupIdHex);
    }
    GroupState s = state(inMessage);
    ByteBuffer d = digest(message);
    long epoch = msg.getEpoch();
    long local = s.group.getEpoch();
    ContentType type = msg.getContentType();
    try {
      if (type == ContentType.APPLICATION) {
        if (s.sent.contains(d)) {
          return new Processed("application", null, epoch, true, false, false);
        }
        if (epoch > local) {
          throw new MlsException("message is from future epoch " + epoch + " (local epoch " + local + "); missing commits?");
        }
        Group at = epoch == local ? s.group : s.past.stream().filter(g -> g.getEpoch() == epoch).findFirst()
            .orElseThrow(() -> new MlsException("no keys kept for epoch " + epoch + " (local epoch " + local + ")"));
        byte[][] aadAndPlaintext = at.unprotect(msg);
        return new Processed("application", aadAndPlaintext[1], epoch, false, false, false);
      }
      if (s.appliedOwnCommits.contains(d)) {
        return new Processed(kind(type), null, local, true, true, false);
      }
      if (epoch != local) {
        throw new MlsException(epoch < local ? "commit is from old epoch " + epoch + " (local epoch " + local + ")"
            : "message is from future epoch " + epoch + " (local epoch " + local + "); missing commits?");
      }
      if (s.pendingCommit != null && Arrays.equals(s.pendingCommit, message)) {
        // Our own commit, sequenced by the server: bcmls hands back the cached successor.
        Group next = s.group.handle(message, s.pending);
        s.appliedOwnCommits.add(d);
        s.advance(next);
        return new Processed("commit", null, next.getEpoch(), true, false, false);
      }
      Group next = s.group.handle(message, null);
      if (next == null) {
        return new Processed("proposal", null, local, false, false, false);
      }
      boolean discarded = s.pending != null;
      s.advance(next);
      return new Processed("commit", null, next.getEpoch(), false, false, discarded);
    } catch (MlsException e) {
      throw e;
    } catch (Exception e) {
      throw new MlsException("cannot process a " + kind(type) + " at epoch " + epoch + " (local epoch " + local + ")", e);
    }
  }

  long epoch(String groupIdHex) {
    return state(groupIdHex).group.getEpoch();
  }

  boolean hasPending(String groupIdHex) {
    return state(groupIdHex).pending != null;
  }

  int ownLeafIndex(String groupIdHex) {
    return state(groupIdHex).group.getIndex().value();
  }

  /** The non-blank leaves of the current tree. */
  List<Member> members(String groupIdHex) {
    TreeKEMPublicKey tree = state(groupIdHex).group.getTree();
    List<Member> out = new ArrayList<>();
    for (int i = 0; i < tree.getSize().leafCount(); i++) {
      LeafNode leaf = tree.getLeafNode(new LeafIndex(i));
      if (leaf != null) {
        out.add(new Member(i, new String(leaf.getCredential().getIdentity(), java.nio.charset.StandardCharsets.UTF_8),
            leaf.getSignatureKey()));
      }
    }
    return out;
  }

  /** A new signed GroupInfo for the current epoch, with external_pub and ratchet_tree. */
  byte[] groupInfo(String groupIdHex) {
    try {
      return MLSOutputStream.encode(state(groupIdHex).group.getGroupInfo(true));
    } catch (Exception e) {
      throw new MlsException("cannot make a GroupInfo for " + groupIdHex, e);
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------------

  private GroupState state(String groupIdHex) {
    GroupState s = groups.get(groupIdHex.toLowerCase(java.util.Locale.ROOT));
    if (s == null) {
      throw new MlsException("unknown group " + groupIdHex);
    }
    return s;
  }

  private static String kind(ContentType type) {
    return switch (type) {
      case APPLICATION -> "application";
      case PROPOSAL -> "proposal";
      case COMMIT -> "commit";
      default -> String.valueOf(type);
    };
  }

  private static MLSMessage decode(byte[] bytes, String what) {
    try {
      return (MLSMessage) MLSInputStream.decode(bytes, MLSMessage.class);
    } catch (Exception | AssertionError e) {
      throw new MlsException("cannot decode the " + what + " as an MLSMessage", e);
    }
  }

  /**
   * The group_id of a PublicMessage or PrivateMessage: both start with {@code opaque group_id<V>} right after the
   * 4-byte MLSMessage header (bcmls keeps it in package-private fields). The length is an RFC 9000 varint.
   */
  static byte[] framedGroupId(byte[] message) {
    int p = 4;
    int first = message[p] & 0xff;
    int size = 1 << (first >> 6);
    long length = first & 0x3f;
    for (int i = 1; i < size; i++) {
      length = (length << 8) | (message[p + i] & 0xff);
    }
    p += size;
    if (length > message.length - p) {
      throw new MlsException("truncated group_id");
    }
    return Arrays.copyOfRange(message, p, p + (int) length);
  }

  private static ByteBuffer digest(byte[] bytes) {
    try {
      return ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "BcMlsClient[" + identity + "]";
  }
}
