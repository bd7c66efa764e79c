package dev.mlsds.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.SeedTypes.CommitMessage;
import dev.mlsds.e2e.SeedTypes.ConvoView;
import dev.mlsds.e2e.SeedTypes.EpochChange;
import dev.mlsds.e2e.SeedTypes.GetCommitsOutput;
import dev.mlsds.e2e.SeedTypes.GetConvosOutput;
import dev.mlsds.e2e.SeedTypes.GetEpochOutput;
import dev.mlsds.e2e.SeedTypes.GetKeyPackagesOutput;
import dev.mlsds.e2e.SeedTypes.GetMessagesOutput;
import dev.mlsds.e2e.SeedTypes.GetWelcomeOutput;
import dev.mlsds.e2e.SeedTypes.SendMessageOutput;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The seed-era Catbird client (iOS app of 2025-10-31, {@code MLSAPIClient} + {@code MLSConversationManager}, Petrel
 * models generated from the seed lexicons), emulated over HTTP for one device whose MLS side is a ts-mls agent.
 *
 * <p>Requests have exactly that client's shapes (review of the Catbird clients, §4): binary {@code string} fields as
 * base64url without padding, {@code ciphertext} as padded {@code $bytes}, {@code sendMessage.epoch} = the server's
 * epoch, {@code senderDid} = self, repeated {@code dids} keys, no {@code commit} in {@code createConvo}, a bare
 * KeyPackage (no MLSMessage header) with {@code expires} = now + 30 days. It sends none of this server's additions
 * ({@code deviceId}, {@code groupInfo}, {@code welcome}, {@code sinceSeq}, …). Every 200 response is decoded with
 * {@link SeedTypes}, so an output the real client could not decode fails the test; any other status is a
 * {@link SeedHttpException} carrying only the status, because the client branched on nothing else.
 */
final class SeedClient {
  static final String SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
  /** OpenMLS's default KeyPackage lifetime (12 weeks), which the seed app's FFI kept. */
  private static final long OPENMLS_LIFETIME_SECONDS = 84L * 24 * 3600;
  /** {@code ATProtocolDate.iso8601String}. */
  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  final User user;
  final MlsOps mls;

  /** A non-200 response: the seed client saw {@code MLSAPIError.httpError(statusCode:)} and nothing more. */
  static final class SeedHttpException extends RuntimeException {
    final int status;

    SeedHttpException(String method, int status, JsonNode body) {
      super(method + " -> HTTP " + status + " " + body);
      this.status = status;
    }
  }

  SeedClient(Device device) {
    this.user = device.user;
    this.mls = device.agent;
  }

  String did() {
    return user.did();
  }

  // ---- the API client: one method per seed NSID ----------------------------------------------------------

  GetConvosOutput getConvos(String cursor) {
    return GetConvosOutput.decode(cursor == null ? get("getConvos", "limit", "100") : get("getConvos", "limit", "100", "cursor", cursor));
  }

  /** {@code syncWithServer}: every page until {@code cursor} is nil. */
  List<ConvoView> allConvos() {
    List<ConvoView> all = new ArrayList<>();
    String cursor = null;
    do {
      GetConvosOutput page = getConvos(cursor);
      all.addAll(page.conversations());
      cursor = page.cursor();
    } while (cursor != null);
    return all;
  }

  ConvoView convo(String convoId) {
    return allConvos().stream().filter(c -> c.id().equals(convoId)).findFirst()
        .orElseThrow(() -> new AssertionError(user.name + ": getConvos does not list " + convoId));
  }

  ConvoView createConvo(String groupIdHex, List<String> initialMembers, byte[] welcome, String name) {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("groupId", groupIdHex);
    in.put("cipherSuite", SUITE);
    if (initialMembers != null) {
      in.put("initialMembers", initialMembers);
    }
    if (welcome != null) {
      in.put("welcomeMessage", SeedDecoding.base64UrlNoPad(welcome));
    }
    Map<String, Object> metadata = new LinkedHashMap<>();
    metadata.put("$type", "blue.catbird.mls.createConvo#metadataInput");
    metadata.put("name", name);
    in.put("metadata", metadata);
    return ConvoView.decode(post("createConvo", in), "createConvo");
  }

  EpochChange addMembers(String convoId, List<String> didList, byte[] commit, byte[] welcome) {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("convoId", convoId);
    in.put("didList", didList);
    in.put("commit", SeedDecoding.base64UrlNoPad(commit));
    in.put("welcomeMessage", SeedDecoding.base64UrlNoPad(welcome));
    return EpochChange.decode(post("addMembers", in), "addMembers");
  }

  EpochChange leaveConvo(String convoId) {
    return EpochChange.decode(post("leaveConvo", Map.of("convoId", convoId)), "leaveConvo");
  }

  GetMessagesOutput getMessages(String convoId, int limit, String sinceMessage) {
    return GetMessagesOutput.decode(sinceMessage == null
        ? get("getMessages", "convoId", convoId, "limit", Integer.toString(limit))
        : get("getMessages", "convoId", convoId, "limit", Integer.toString(limit), "sinceMessage", sinceMessage));
  }

  SendMessageOutput sendMessage(String convoId, byte[] ciphertext, long epoch) {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("convoId", convoId);
    in.put("ciphertext", Map.of("$bytes", SeedDecoding.foundationEncode(ciphertext)));
    in.put("epoch", epoch);
    in.put("senderDid", did());
    return SendMessageOutput.decode(post("sendMessage", in));
  }

  void publishKeyPackage(byte[] bareKeyPackage, Instant expires) {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("keyPackage", SeedDecoding.base64UrlNoPad(bareKeyPackage));
    in.put("cipherSuite", SUITE);
    in.put("expires", DATE.format(expires));
    // The output is ignored by the client (`let (responseCode, _)`); it must still be a JSON object.
    SeedDecoding.object(post("publishKeyPackage", in), "publishKeyPackage");
  }

  GetKeyPackagesOutput getKeyPackages(List<String> dids) {
    List<String> params = new ArrayList<>();
    for (String d : dids) {
      params.add("dids");
      params.add(d);
    }
    return GetKeyPackagesOutput.decode(get("getKeyPackages", params.toArray(String[]::new)));
  }

  GetEpochOutput getEpoch(String convoId) {
    return GetEpochOutput.decode(get("getEpoch", "convoId", convoId));
  }

  GetCommitsOutput getCommits(String convoId, long fromEpoch, long toEpoch) {
    return GetCommitsOutput.decode(get("getCommits", "convoId", convoId, "fromEpoch", Long.toString(fromEpoch),
        "toEpoch", Long.toString(toEpoch)));
  }

  GetWelcomeOutput getWelcome(String convoId) {
    return GetWelcomeOutput.decode(get("getWelcome", "convoId", convoId));
  }

  /** {@code streamConvoEvents?convoId=} (live from now), read like the seed client reads it. */
  SeedEventStream streamConvoEvents(String convoId) {
    return SeedEventStream.open(user, convoId);
  }

  /** The HTTP status of a call expected to fail (the test fails if it succeeds). */
  static int statusOf(Runnable call) {
    try {
      call.run();
    } catch (SeedHttpException e) {
      return e.status;
    }
    throw new AssertionError("the call was expected to fail but returned 200");
  }

  private JsonNode get(String method, String... params) {
    return ok(user.get(method, params));
  }

  private JsonNode post(String method, Map<String, ?> body) {
    return ok(user.post(method, body));
  }

  private JsonNode ok(User.Response r) {
    if (r.status() != 200) {
      throw new SeedHttpException(r.method(), r.status(), r.body());
    }
    return r.body();
  }

  // ---- the conversation manager: the client steps of MLSConversationManager -------------------------------

  /**
   * {@code publishKeyPackage}: a new KeyPackage (OpenMLS's 84-day lifetime), sent bare (as OpenMLS serialises it),
   * with {@code expires} = now + 30 days. Returns
   * the bare KeyPackage.
   */
  byte[] publishKeyPackage() {
    JsonNode kp = mls.call("keyPackages", "count", 1, "lifetimeSeconds", OPENMLS_LIFETIME_SECONDS).path("keyPackages").get(0);
    byte[] bare = bare(Base64.getDecoder().decode(kp.path("keyPackage").asText()));
    publishKeyPackage(bare, Instant.now().plus(30, ChronoUnit.DAYS).truncatedTo(ChronoUnit.MILLIS));
    return bare;
  }

  /**
   * {@code createGroup}: the local group, the KeyPackages of {@code members} claimed with getKeyPackages, an Add commit kept
   * pending, and createConvo with the Welcome and no commit. The commit is merged once the server accepted the
   * conversation (the seed app forgot to; a client that does not merge cannot talk to the members it added).
   */
  ConvoView createGroup(String groupIdHex, List<String> members, GetKeyPackagesOutput kps, String name) {
    mls.call("createGroup", "groupId", groupIdHex);
    if (members.isEmpty()) {
      return createConvo(groupIdHex, null, null, name);
    }
    JsonNode pending = mls.call("addMembers", "groupId", groupIdHex, "keyPackages", mlsKeyPackages(kps));
    ConvoView convo = createConvo(groupIdHex, members, Base64.getDecoder().decode(pending.path("welcome").asText()), name);
    mls.call("applyPending", "groupId", groupIdHex);
    return convo;
  }

  /** {@code addMembers}: claim, commit locally, send commit + Welcome, merge on 200 (clear on anything else). */
  EpochChange addMembers(ConvoView convo, List<String> dids) {
    GetKeyPackagesOutput kps = getKeyPackages(dids);
    if (kps.missing() != null && !kps.missing().isEmpty()) {
      throw new AssertionError(user.name + ": no KeyPackage for " + kps.missing());
    }
    JsonNode pending = mls.call("addMembers", "groupId", convo.groupId(), "keyPackages", mlsKeyPackages(kps));
    try {
      EpochChange out = addMembers(convo.id(), dids, Base64.getDecoder().decode(pending.path("commit").asText()),
          Base64.getDecoder().decode(pending.path("welcome").asText()));
      mls.call("applyPending", "groupId", convo.groupId());
      return out;
    } catch (RuntimeException e) {
      mls.call("discardPending", "groupId", convo.groupId());
      throw e;
    }
  }

  /** {@code initializeGroupFromWelcome}: getWelcome, decode the base64url string, join; returns the joined epoch. */
  long joinFromWelcome(ConvoView convo) {
    GetWelcomeOutput w = getWelcome(convo.id());
    JsonNode joined = mls.call("join", "welcome", Base64.getEncoder().encodeToString(w.welcome()));
    if (!joined.path("groupId").asText().equalsIgnoreCase(convo.groupId())) {
      throw new AssertionError(user.name + ": the Welcome is for group " + joined.path("groupId") + ", not " + convo.groupId());
    }
    return joined.path("epoch").asLong();
  }

  long localEpoch(String groupIdHex) {
    return mls.call("epoch", "groupId", groupIdHex).path("epoch").asLong();
  }

  /**
   * {@code syncGroupState}: if the server's epoch is ahead, fetch the commits with {@code fromEpoch} = local epoch + 1
   * and {@code toEpoch} = the server's, and process each. Returns the commits processed.
   */
  List<CommitMessage> syncGroupState(ConvoView convo) {
    long local = localEpoch(convo.groupId());
    long server = getEpoch(convo.id()).currentEpoch();
    if (local >= server) {
      return List.of();
    }
    GetCommitsOutput out = getCommits(convo.id(), local + 1, server);
    for (CommitMessage c : out.commits()) {
      JsonNode r = mls.call("process", "groupId", convo.groupId(), "message", Base64.getEncoder().encodeToString(c.commitData()));
      if (!"commit".equals(r.path("kind").asText()) || r.path("epoch").asLong() != c.epoch()) {
        throw new AssertionError(user.name + ": getCommits labelled a commit epoch " + c.epoch() + " but processing it gave " + r);
      }
    }
    return out.commits();
  }

  /** What one send produced: the server's output and the ciphertext that went out. */
  record Sent(SendMessageOutput output, byte[] ciphertext, String plaintext) {}

  /** {@code sendMessage}: sync, encrypt, send with the server's epoch and {@code senderDid} = self. */
  Sent send(ConvoView convo, String plaintext) {
    syncGroupState(convo);
    long serverEpoch = convo(convo.id()).epoch();
    JsonNode enc = mls.call("encrypt", "groupId", convo.groupId(), "plaintext", plaintext);
    byte[] ciphertext = Base64.getDecoder().decode(enc.path("message").asText());
    return new Sent(sendMessage(convo.id(), ciphertext, serverEpoch), ciphertext, plaintext);
  }

  /** Hands one received MLS message to the agent; returns its {@code process} result. */
  JsonNode process(String groupIdHex, byte[] message) {
    return mls.call("process", "groupId", groupIdHex, "message", Base64.getEncoder().encodeToString(message));
  }

  /** The claimed KeyPackages as the agent takes them: MLSMessage-wrapped (the seed FFI accepted either form). */
  private static List<String> mlsKeyPackages(GetKeyPackagesOutput kps) {
    return kps.keyPackages().stream().map(k -> Base64.getEncoder().encodeToString(wrapped(k.keyPackage()))).toList();
  }

  /** The MLSMessage header of a KeyPackage: version mls10 (1), wire_format mls_key_package (5). */
  private static final byte[] KEY_PACKAGE_HEADER = {0, 1, 0, 5};

  static byte[] bare(byte[] mlsMessage) {
    if (!Arrays.equals(Arrays.copyOf(mlsMessage, 4), KEY_PACKAGE_HEADER)) {
      throw new IllegalArgumentException("not an MLSMessage KeyPackage");
    }
    return Arrays.copyOfRange(mlsMessage, 4, mlsMessage.length);
  }

  static byte[] wrapped(byte[] keyPackage) {
    if (keyPackage.length >= 4 && Arrays.equals(Arrays.copyOf(keyPackage, 4), KEY_PACKAGE_HEADER)) {
      return keyPackage;
    }
    byte[] out = new byte[keyPackage.length + 4];
    System.arraycopy(KEY_PACKAGE_HEADER, 0, out, 0, 4);
    System.arraycopy(keyPackage, 0, out, 4, keyPackage.length);
    return out;
  }

  @Override
  public String toString() {
    return "seed client " + user;
  }
}
