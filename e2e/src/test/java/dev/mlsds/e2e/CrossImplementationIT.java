package dev.mlsds.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.Device.KeyPackage;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * Two independent MLS implementations in one group, through a running mlsds node: ts-mls 1.6.4 (Node agent
 * processes) and Bouncy Castle's bcmls 1.84 (in-process, {@link BcMlsClient}). Neither shares code with the
 * other or with the server; all bytes go through the server's HTTP API with real service tokens, and every
 * content assertion is about what the *other* implementation decrypted. One node over SQLite.
 */
class CrossImplementationIT extends E2eFixture {

  @Override
  String openDatabase() {
    return Databases.sqlite();
  }

  @Override
  void closeDatabase() {}

  /**
   * A bcmls user creates the group with a ts-mls user in it (commit bundle on createConvo); the ts-mls user joins
   * from the Welcome the server routes to its device; messages both ways; then each side makes a key update (a commit
   * with an UpdatePath) that the other processes, and they still talk.
   */
  @Test
  void bcmlsCreatesTheGroupAndAddsATsMlsUser() {
    User ua = user("alice");
    User ub = user("bob");
    Device a = bcDevice(ua);
    Device b = device(ub);
    List<KeyPackage> bobsKeyPackages = b.publish(2);

    // Alice (bcmls) claims Bob's (ts-mls) KeyPackage and creates the group and the conversation in one bundle.
    String g = newGroupId();
    assertThat(a.agent.call("createGroup", "groupId", g).path("epoch").asLong()).isZero();
    JsonNode claimed = claim(ua, ub);
    assertThat(claimed).hasSize(1);
    assertThat(claimed.get(0).path("deviceId").asText()).isEqualTo(b.deviceId);
    String claimedRef = claimed.get(0).path("keyPackageRef").asText();
    assertThat(claimedRef).isIn(bobsKeyPackages.stream().map(KeyPackage::ref).toList());
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claimed));
    // What bcmls produced, read by ts-mls without any group state.
    JsonNode commit = b.agent.call("inspect", "message", pending.path("commit").asText());
    assertThat(commit.path("wireFormatName").asText()).isEqualTo("mls_public_message");
    assertThat(commit.path("epoch").asLong()).isZero();
    assertThat(commit.path("senderType").asText()).isEqualTo("member");
    JsonNode welcome = b.agent.call("inspect", "message", pending.path("welcome").asText());
    assertThat(welcome.path("newMembers")).extracting(JsonNode::asText).containsExactly(claimedRef);
    JsonNode groupInfo = b.agent.call("inspect", "message", pending.path("groupInfo").asText());
    assertThat(groupInfo.path("epoch").asLong()).isEqualTo(1);
    assertThat(groupInfo.path("extensions")).extracting(JsonNode::asText).contains("external_pub", "ratchet_tree");
    assertThat(a.epoch(g)).as("the commit stays pending until the server accepts it").isZero();
    JsonNode convo = ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "initialMembers", List.of(ub.did()),
        "commit", Device.bytes(pending.path("commit").asText()), "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    assertThat(convo.path("epoch").asLong()).isEqualTo(1);
    assertThat(a.agent.call("applyPending", "groupId", g).path("epoch").asLong()).isEqualTo(1);

    // Bob (ts-mls) fetches the Welcome bcmls made, joins and confirms.
    assertThat(fetchJoinConfirm(b, g).path("keyPackageRef").asText()).isEqualTo(claimedRef);
    assertThat(b.epoch(g)).isEqualTo(1);
    assertSameRoster(g, a, b);

    // Messages both ways: each side's plaintext is what the other implementation encrypted.
    a.send(g, "hello bob, from bouncy castle");
    assertThat(b.texts(g)).containsExactly("hello bob, from bouncy castle");
    b.send(g, "hi alice, from ts-mls");
    assertThat(a.texts(g)).containsExactly("hi alice, from ts-mls");

    // Bob's key update (ts-mls UpdatePath) through sendMessage; bcmls decrypts the path and follows.
    assertThat(updateCommit(b, g).ok().path("epoch").asLong()).isEqualTo(1);
    assertThat(commits(a.receive(g))).singleElement().satisfies(r -> {
      assertThat(r.result().path("epoch").asLong()).isEqualTo(2);
      assertThat(r.sender()).isEqualTo(ub.did());
    });
    // Alice's key update (bcmls UpdatePath); ts-mls follows.
    assertThat(updateCommit(a, g).ok().path("epoch").asLong()).isEqualTo(2);
    assertThat(commits(b.receive(g))).singleElement().satisfies(r -> {
      assertThat(r.result().path("epoch").asLong()).isEqualTo(3);
      JsonNode framing = b.agent.call("inspect", "message", r.ciphertext());
      assertThat(framing.path("wireFormatName").asText()).isEqualTo("mls_public_message");
      assertThat(framing.path("hasPath").asBoolean()).isTrue();
      assertThat(framing.path("proposals")).isEmpty();
    });

    a.send(g, "after both key updates");
    assertThat(b.texts(g)).containsExactly("after both key updates");
    b.send(g, "still reading you");
    assertThat(a.texts(g)).containsExactly("still reading you");
    assertThat(List.of(a.epoch(g), b.epoch(g), serverEpoch(ua, g))).containsOnly(3L);
    assertThat(ua.get("getGroupInfo", "convoId", g).ok().path("epoch").asLong()).isEqualTo(3);
  }

  /**
   * The reverse: a ts-mls user creates the group and adds a bcmls user, whose KeyPackages went through
   * publishKeyPackages and getKeyPackages and who joins from the Welcome it fetches; messages both ways. Then the
   * bcmls member adds a third member (ts-mls) with addMembers: ts-mls processes the bcmls commit, the newcomer joins
   * from the bcmls Welcome; a bcmls key update follows, and every member decrypts every other member's message.
   */
  @Test
  void tsMlsCreatesTheGroupAndAddsABcmlsUserWhoAddsAThirdMember() {
    User ua = user("alice");
    User ub = user("bob");
    User uc = user("carol");
    Device a = device(ua);
    Device b = bcDevice(ub);
    Device c = device(uc);
    List<KeyPackage> bobsKeyPackages = b.publish(2); // asserts the server derived the same ref and deviceId
    c.publish(1);

    // What the server stored for Bob, read by ts-mls: the basic credential is his DID, the lifetime is real.
    JsonNode kp = a.agent.call("inspect", "message", bobsKeyPackages.get(0).base64());
    assertThat(kp.path("keyPackageRef").asText()).as("ts-mls computes the same KeyPackageRef").isEqualTo(bobsKeyPackages.get(0).ref());
    assertThat(kp.path("identity").asText()).isEqualTo(ub.did());
    assertThat(kp.path("credentialType").asText()).isEqualTo("basic");
    long now = Instant.now().getEpochSecond();
    assertThat(kp.path("notBefore").asLong()).isBetween(now - 120, now);
    assertThat(kp.path("notAfter").asLong()).isBetween(now + 29L * 24 * 3600, now + 31L * 24 * 3600);
    // Why the wrapper sets the lifetime itself: bcmls's own default, (0, 2^64-1), is refused by the server.
    String unbounded = b.agent.call("keyPackages", "count", 1, "notBefore", 0, "notAfter", -1)
        .path("keyPackages").get(0).path("keyPackage").asText();
    JsonNode refused = ub.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", Device.bytes(unbounded)))))
        .ok().path("results").get(0);
    assertThat(refused.path("status").asText()).as("%s", refused).isEqualTo("rejected");
    assertThat(refused.path("error").asText()).isEqualTo("InvalidKeyPackage");

    // Alice (ts-mls) creates the group with Bob (bcmls) in it.
    String g = newGroupId();
    a.agent.call("createGroup", "groupId", g);
    JsonNode claimed = claim(ua, ub);
    assertThat(claimed).hasSize(1);
    assertThat(claimed.get(0).path("deviceId").asText()).isEqualTo(b.deviceId);
    String claimedRef = claimed.get(0).path("keyPackageRef").asText();
    assertThat(claimedRef).isIn(bobsKeyPackages.stream().map(KeyPackage::ref).toList());
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claimed));
    ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "initialMembers", List.of(ub.did()),
        "commit", Device.bytes(pending.path("commit").asText()), "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    a.agent.call("applyPending", "groupId", g);

    // Bob (bcmls) fetches the ts-mls Welcome from the server and joins with the KeyPackage the server named.
    assertThat(fetchJoinConfirm(b, g).path("keyPackageRef").asText()).isEqualTo(claimedRef);
    assertThat(b.epoch(g)).isEqualTo(1);
    assertSameRoster(g, a, b);
    a.send(g, "hello bob, from ts-mls");
    assertThat(b.texts(g)).containsExactly("hello bob, from ts-mls");
    b.send(g, "hi alice, from bouncy castle");
    assertThat(a.texts(g)).containsExactly("hi alice, from bouncy castle");

    // Bob (bcmls) adds Carol (ts-mls): Alice processes the bcmls commit, Carol joins from the bcmls Welcome.
    JsonNode added = addMembers(b, g, claim(ub, uc), uc);
    assertThat(added.path("newEpoch").asLong()).isEqualTo(2);
    assertThat(added.path("welcomeRecipients")).singleElement()
        .satisfies(w -> assertThat(w.path("deviceId").asText()).isEqualTo(c.deviceId));
    fetchJoinConfirm(c, g);
    assertThat(commits(a.receive(g))).singleElement().satisfies(r -> {
      assertThat(r.result().path("epoch").asLong()).isEqualTo(2);
      assertThat(r.sender()).isEqualTo(ub.did());
    });
    assertThat(b.receive(g)).as("bcmls is handed back its own message and commit").allMatch(Device.Received::own)
        .filteredOn(r -> "commit".equals(r.contentType())).singleElement()
        .satisfies(r -> assertThat(r.result().path("alreadyApplied").asBoolean()).as("%s", r).isTrue());
    assertSameRoster(g, a, b, c);

    // A bcmls key update: both ts-mls members decrypt the bcmls UpdatePath.
    assertThat(updateCommit(b, g).ok().path("epoch").asLong()).isEqualTo(2);
    assertThat(commits(a.receive(g))).singleElement().satisfies(r -> assertThat(r.result().path("epoch").asLong()).isEqualTo(3));
    assertThat(commits(c.receive(g))).singleElement().satisfies(r -> assertThat(r.result().path("epoch").asLong()).isEqualTo(3));

    // Everyone decrypts everyone.
    a.send(g, "from alice (ts-mls)");
    b.send(g, "from bob (bcmls)");
    c.send(g, "from carol (ts-mls)");
    assertThat(a.texts(g)).containsExactly("from bob (bcmls)", "from carol (ts-mls)");
    assertThat(b.texts(g)).containsExactly("from alice (ts-mls)", "from carol (ts-mls)");
    assertThat(c.texts(g)).containsExactly("from alice (ts-mls)", "from bob (bcmls)");
    assertThat(List.of(a.epoch(g), b.epoch(g), c.epoch(g), serverEpoch(ua, g))).containsOnly(3L);
  }

  /**
   * Issue 10 with both implementations under the {@code public} handshake policy, where the server polices every
   * commit: bcmls's Add commit (no path) and key update, ts-mls's key update and Remove all pass; a non-admin's
   * smuggled Remove (ts-mls, naming a member who left but removing the bcmls admin's leaf) is refused and the group
   * goes on; then the bcmls admin resets the group (a new bcmls group re-adding the ts-mls member, policed like
   * addMembers' commit) and both talk and commit in the new group.
   */
  @Test
  void bothImplementationsUnderThePublicPolicyAndAGroupResetByBcmls() {
    User ua = user("alice");
    User ub = user("bob");
    User uc = user("carol");
    Device a = bcDevice(ua);
    Device b = device(ub);
    Device c = device(uc);
    b.publish(1);
    c.publish(1);
    String g = newGroupId();
    a.agent.call("createGroup", "groupId", g);
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claim(ua, ub, uc)));
    ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "handshakePolicy", "public",
        "initialMembers", List.of(ub.did(), uc.did()), "commit", Device.bytes(pending.path("commit").asText()),
        "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    a.agent.call("applyPending", "groupId", g);
    fetchJoinConfirm(b, g);
    fetchJoinConfirm(c, g);
    assertSameRoster(g, a, b, c);

    // Key updates by both implementations pass the policing (UpdatePath leaf = the committer's own DID).
    assertThat(updateCommit(b, g).status()).isEqualTo(200);
    assertThat(commits(a.receive(g))).hasSize(1);
    assertThat(commits(c.receive(g))).hasSize(1);
    assertThat(updateCommit(a, g).status()).isEqualTo(200);
    assertThat(commits(b.receive(g))).hasSize(1);
    assertThat(commits(c.receive(g))).hasSize(1);

    // The server verifies each real commit against the group state it computed from the real clients' commits
    // (docs/conversations.md, "What `public` verifies"): one flipped bit in the signature of a ts-mls or a bcmls
    // key update is 403, and the intact commit is then accepted.
    for (Device d : List.of(b, a)) {
      JsonNode update = d.agent.call("update", "groupId", d.group(g));
      byte[] commit = java.util.Base64.getDecoder().decode(update.path("commit").asText());
      dev.mlsds.codec.PublicMessage pm = (dev.mlsds.codec.PublicMessage) dev.mlsds.codec.MlsMessage.decode(commit);
      byte[] forged = commit.clone();
      forged[commit.length - 2 - pm.confirmationTag().length - pm.membershipTag().length - 1] ^= 1;
      User.Response refused = d.user.post("sendMessage", Map.of("convoId", g, "ciphertext",
          Device.bytes(java.util.Base64.getEncoder().encodeToString(forged))));
      assertThat(refused.status()).as("%s's forged commit: %s", d, refused).isEqualTo(403);
      assertThat(refused.error()).isEqualTo("Forbidden");
      d.user.post("sendMessage", Map.of("convoId", g, "ciphertext", Device.bytes(update.path("commit").asText()))).ok();
      d.agent.call("applyPending", "groupId", d.group(g));
      d.user.post("updateGroupInfo", Map.of("convoId", g, "groupInfo", Device.bytes(update.path("groupInfo").asText()))).ok();
      for (Device other : List.of(a, b, c)) {
        if (other != d) {
          assertThat(commits(other.receive(g))).hasSize(1);
        }
      }
    }

    // Carol leaves; Bob (not an admin) commits a Remove of Alice's bcmls leaf while naming Carol: refused.
    uc.post("leaveConvo", Map.of("convoId", g)).ok();
    JsonNode smuggled = b.agent.call("remove", "groupId", g, "leafIndex", a.ownLeaf(g));
    User.Response refused = ub.post("removeMember", Map.of("convoId", g, "targetDid", uc.did(),
        "commit", Device.bytes(smuggled.path("commit").asText())));
    assertThat(refused.error()).as("%s", refused).isEqualTo("Forbidden");
    b.agent.call("discardPending", "groupId", g);
    JsonNode removal = b.agent.call("remove", "groupId", g, "identity", uc.did());
    ub.post("removeMember", Map.of("convoId", g, "targetDid", uc.did(),
        "commit", Device.bytes(removal.path("commit").asText()))).ok();
    b.agent.call("applyPending", "groupId", g);
    assertThat(commits(a.receive(g))).as("bcmls processes ts-mls's Remove").hasSize(1);
    a.send(g, "still here, policed");
    assertThat(b.texts(g)).containsExactly("still here, policed");
    assertThat(List.of(a.epoch(g), b.epoch(g), serverEpoch(ua, g))).containsOnly(6L);

    // Alice (bcmls, admin) resets the group: a new bcmls group, Bob (ts-mls) re-added from a fresh KeyPackage.
    b.publish(1);
    String g2 = newGroupId();
    a.agent.call("createGroup", "groupId", g2);
    JsonNode fresh = a.agent.call("addMembers", "groupId", g2, "keyPackages", keyPackageBytes(claim(ua, ub)));
    JsonNode reset = ua.post("resetGroup", Map.of("convoId", g, "fromGroupId", g, "fromEpoch", 6, "groupId", g2,
        "didList", List.of(ub.did()), "commit", Device.bytes(fresh.path("commit").asText()),
        "welcome", Device.bytes(fresh.path("welcome").asText()),
        "groupInfo", Device.bytes(fresh.path("groupInfo").asText()))).ok();
    a.agent.call("applyPending", "groupId", g2);
    long resetSeq = reset.path("resetSeq").asLong();
    a.resetTo(g, g2, resetSeq);
    b.resetTo(g, g2, resetSeq);
    fetchJoinConfirm(b, g, g2);
    assertSameRoster(g, a, b);
    b.send(g, "ts-mls in the new group");
    assertThat(a.texts(g)).containsExactly("ts-mls in the new group");
    a.send(g, "bcmls in the new group");
    assertThat(b.texts(g)).containsExactly("bcmls in the new group");
    assertThat(updateCommit(b, g).status()).isEqualTo(200);
    assertThat(commits(a.receive(g))).hasSize(1);
    assertThat(List.of(a.epoch(g), b.epoch(g), serverEpoch(ua, g))).containsOnly(2L);
  }

  /** Every device sees the same leaves: same identities (the DIDs) and signature keys, by its own implementation. */
  private static void assertSameRoster(String g, Device... devices) {
    List<String> first = roster(devices[0], g);
    assertThat(first).hasSize(devices.length);
    for (Device d : devices) {
      assertThat(roster(d, g)).as("%s's view of the tree", d).isEqualTo(first);
      assertThat(first).anySatisfy(m -> assertThat(m).startsWith(d.user.did() + " "));
    }
  }

  private static List<String> roster(Device d, String g) {
    JsonNode members = d.agent.call("members", "groupId", d.group(g)).path("members");
    return StreamSupport.stream(members.spliterator(), false)
        .map(m -> m.path("identity").asText() + " " + m.path("leafIndex").asInt() + " " + m.path("signaturePublicKey").asText())
        .toList();
  }
}
