package dev.mlsds.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * One device of a {@link User}: an MLS client (an {@link MlsAgent} process or a {@link BcMlsAgent}) initialised
 * with the user's DID, plus what a client app keeps beside its MLS state: a read cursor per conversation, and the
 * epoch it joined at.
 *
 * <p>{@link #receive} is the client's delivery loop: page through {@code getMessages} from the cursor
 * ({@code sinceSeq}, {@code hasMore}) and hand every message, in {@code seq} order, to the agent.
 */
final class Device {
  /** A small page, so that every scenario also walks {@code hasMore}/{@code lastSeq} paging. */
  private static final String PAGE_SIZE = "3";

  final User user;
  /** The device's MLS implementation: a ts-mls agent process, or the in-process bcmls client. */
  final MlsOps agent;
  /** Lowercase hex of the first 16 bytes of SHA-256 over the signature key: what the server derives too. */
  final String deviceId;
  private final Map<String, Long> cursors = new HashMap<>();
  private final Map<String, Long> newMemberAt = new HashMap<>();
  private final Map<String, Long> skipBefore = new HashMap<>();
  /** The MLS group each conversation runs on, when a group reset moved it off its first one (the convoId). */
  private final Map<String, String> groups = new HashMap<>();

  /** A KeyPackage as the agent made it: standard base64 of the MLSMessage, and its KeyPackageRef (hex). */
  record KeyPackage(String base64, String ref) {}

  /** One log entry as this device saw it; {@code result} is the agent's {@code process} result. */
  record Received(long seq, long epoch, String contentType, String sender, String ciphertext, JsonNode result) {
    boolean isApplication() {
      return "application".equals(result.path("kind").asText());
    }

    boolean own() {
      return result.path("own").asBoolean(false);
    }
  }

  Device(User user, MlsOps agent) {
    this.user = user;
    this.agent = agent;
    JsonNode init = agent.call("init", "identity", user.did());
    this.deviceId = deviceId(Base64.getDecoder().decode(init.path("signaturePublicKey").asText()));
  }

  static String deviceId(byte[] signatureKey) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(signatureKey);
      return HexFormat.of().formatHex(Arrays.copyOf(digest, 16));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  List<KeyPackage> newKeyPackages(int count) {
    List<KeyPackage> out = new ArrayList<>();
    for (JsonNode kp : agent.call("keyPackages", "count", count).path("keyPackages")) {
      out.add(new KeyPackage(kp.path("keyPackage").asText(), kp.path("keyPackageRef").asText()));
    }
    return out;
  }

  /** Makes {@code count} KeyPackages and publishes them; asserts the server read the same ref and device. */
  List<KeyPackage> publish(int count) {
    List<KeyPackage> kps = newKeyPackages(count);
    List<Map<String, Object>> items = kps.stream().<Map<String, Object>>map(k -> Map.of("keyPackage", bytes(k.base64()))).toList();
    JsonNode out = user.post("publishKeyPackages", Map.of("keyPackages", items)).ok();
    for (int i = 0; i < count; i++) {
      JsonNode r = out.path("results").path(i);
      assertThat(r.path("status").asText()).as("publish result %s", r).isEqualTo("published");
      assertThat(r.path("keyPackageRef").asText()).isEqualTo(kps.get(i).ref());
      assertThat(r.path("deviceId").asText()).isEqualTo(deviceId);
    }
    return kps;
  }

  /**
   * This device joined {@code convoId} at {@code epoch}, with its user already a member before (a new
   * device of a member, an external rejoin): the log it is shown starts where its user joined, so the
   * entries before {@code epoch} predate this device and are skipped.
   */
  void joinedAsExistingMember(String convoId, long epoch) {
    skipBefore.put(convoId, epoch);
  }

  /** The MLS group {@code convoId} runs on, as this device knows it. */
  String group(String convoId) {
    return groups.getOrDefault(convoId, convoId);
  }

  /**
   * What a client does when it learns of a group reset ({@code groupResetEvent}, or a 409 {@code GroupReset}
   * naming the new group and {@code resetSeq}): the conversation now runs on {@code groupId}; the old group's
   * log up to the reset's commit is history it will not process; it takes part in the new group from the
   * Welcome (or, for the admin who reset, from its own applied commit), at epoch 1.
   */
  void resetTo(String convoId, String groupId, long resetSeq) {
    groups.put(convoId, groupId);
    cursors.merge(convoId, resetSeq, Math::max);
    newMemberAt.put(convoId, 1L);
    skipBefore.remove(convoId);
  }

  /**
   * Joins with a Welcome (base64) that made its user a member. The server must then show this user only
   * the log after the Commit that added them: every entry {@link #receive} sees must be for the joined
   * epoch or later, which it asserts.
   */
  JsonNode join(String welcome) {
    JsonNode r = agent.call("join", "welcome", welcome);
    newMemberAt.put(r.path("groupId").asText(), r.path("epoch").asLong());
    return r;
  }

  /**
   * Fetches everything after this device's cursor and processes it in order, returning the agent's result
   * for each entry (except those skipped per {@link #joinedAsExistingMember}).
   */
  List<Received> receive(String convoId) {
    List<Received> out = new ArrayList<>();
    while (true) {
      long since = cursors.getOrDefault(convoId, 0L);
      JsonNode page = user.get("getMessages", "convoId", convoId, "sinceSeq", Long.toString(since), "limit", PAGE_SIZE).ok();
      for (JsonNode m : page.path("messages")) {
        long seq = m.path("seq").asLong();
        if (since > 0) {
          assertThat(seq).as("seq is gap-free and ascending after sinceSeq %d", since).isEqualTo(since + 1);
        } else {
          assertThat(seq).isPositive();
        }
        since = seq;
        long epoch = m.path("epoch").asLong();
        assertThat(epoch).as("%s was shown seq %d, from before the Commit that added its user", this, seq)
            .isGreaterThanOrEqualTo(newMemberAt.getOrDefault(convoId, 0L));
        if (epoch < skipBefore.getOrDefault(convoId, 0L)) {
          continue;
        }
        String ciphertext = m.path("ciphertext").path("$bytes").asText();
        JsonNode result = agent.call("process", "message", ciphertext, "groupId", group(convoId));
        out.add(new Received(seq, epoch, m.path("contentType").asText(), m.path("sender").asText(), ciphertext, result));
      }
      cursors.put(convoId, Math.max(since, page.path("lastSeq").asLong(since)));
      if (!page.path("hasMore").asBoolean(false)) {
        return out;
      }
    }
  }

  /** Receives and returns the plaintexts of other devices' application messages, in log order. */
  List<String> texts(String convoId) {
    return receive(convoId).stream().filter(r -> r.isApplication() && !r.own())
        .map(r -> r.result().path("plaintext").asText()).toList();
  }

  /** Encrypts {@code text} and sends it; returns the sendMessage output. */
  JsonNode send(String convoId, String text) {
    JsonNode enc = agent.call("encrypt", "groupId", group(convoId), "plaintext", text);
    return user.post("sendMessage", Map.of("convoId", convoId, "ciphertext", bytes(enc.path("message").asText()),
        "epoch", enc.path("epoch").asLong())).ok();
  }

  long epoch(String convoId) {
    return agent.call("epoch", "groupId", group(convoId)).path("epoch").asLong();
  }

  /** This device's leaf index in the group, by its own view. */
  int ownLeaf(String convoId) {
    return agent.call("members", "groupId", group(convoId)).path("ownLeafIndex").asInt();
  }

  static Map<String, String> bytes(String base64) {
    return Map.of("$bytes", base64);
  }

  @Override
  public String toString() {
    return user.name + "/" + deviceId.substring(0, 8);
  }
}
