package dev.mlsds.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.Device.KeyPackage;
import dev.mlsds.e2e.Device.Received;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * The group's life with three independent MLS clients (ts-mls 1.6.4, one Node process per device) and a
 * running mlsds node, over HTTP with a freshly minted service token per call: the main scenario of issue 5
 * and the commit race. Both depend most on the storage backend (transactions, the epoch compare-and-set),
 * so they run on SQLite and on PostgreSQL. The server never sees plaintext: every assertion about content
 * is about what another device decrypted.
 */
abstract class GroupLifecycleScenarios extends E2eFixture {

  /**
   * publish KeyPackages → create a group with an initial member (one commit bundle) → Welcome → join →
   * messages both ways → add a third member → remove one (who can no longer read) → a key-update commit.
   */
  @Test
  void fullLifecycle() {
    User ua = user("alice");
    User ub = user("bob");
    User uc = user("carol");
    Device a = device(ua);
    Device b = device(ub);
    Device c = device(uc);
    List<KeyPackage> bobsKeyPackages = b.publish(2);
    c.publish(1);

    // Alice creates the group locally and on the server with Bob in it: commit + Welcome + GroupInfo.
    String g = newGroupId();
    a.agent.call("createGroup", "groupId", g);
    JsonNode claimed = claim(ua, ub);
    assertThat(claimed).hasSize(1);
    assertThat(claimed.get(0).path("did").asText()).isEqualTo(ub.did());
    assertThat(claimed.get(0).path("deviceId").asText()).isEqualTo(b.deviceId);
    String claimedRef = claimed.get(0).path("keyPackageRef").asText();
    assertThat(claimedRef).isIn(bobsKeyPackages.stream().map(KeyPackage::ref).toList());
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claimed));
    assertThat(a.epoch(g)).as("the commit stays pending until the server accepts it").isZero();
    JsonNode convo = ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "initialMembers", List.of(ub.did()),
        "commit", Device.bytes(pending.path("commit").asText()), "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    assertThat(convo.path("epoch").asLong()).isEqualTo(1);
    assertThat(roles(convo)).containsExactlyInAnyOrderEntriesOf(Map.of(ua.did(), "admin", ub.did(), "member"));
    assertThat(a.agent.call("applyPending", "groupId", g).path("epoch").asLong()).isEqualTo(1);

    // Bob fetches the Welcome routed to his device, joins and confirms; a second fetch is 410.
    JsonNode welcome = fetchJoinConfirm(b, g);
    assertThat(welcome.path("keyPackageRef").asText()).isEqualTo(claimedRef);
    assertThat(b.epoch(g)).isEqualTo(1);
    assertThat(ub.get("getWelcome", "convoId", g, "deviceId", b.deviceId).error()).isEqualTo("WelcomeConsumed");

    // Messages both ways.
    a.send(g, "hello bob");
    assertThat(b.texts(g)).containsExactly("hello bob");
    b.send(g, "hi alice");
    assertThat(a.texts(g)).containsExactly("hi alice");

    // Carol is added with addMembers; Bob processes the commit, Carol joins from the Welcome.
    JsonNode added = addMembers(a, g, claim(ua, uc), uc);
    assertThat(added.path("newEpoch").asLong()).isEqualTo(2);
    assertThat(added.path("welcomeRecipients")).hasSize(1);
    assertThat(added.path("welcomeRecipients").get(0).path("did").asText()).isEqualTo(uc.did());
    assertThat(added.path("welcomeRecipients").get(0).path("deviceId").asText()).isEqualTo(c.deviceId);
    fetchJoinConfirm(c, g);
    List<Received> atBob = b.receive(g);
    assertThat(commits(atBob)).singleElement().satisfies(r -> assertThat(r.result().path("epoch").asLong()).isEqualTo(2));
    c.send(g, "hello from carol");
    assertThat(a.texts(g)).containsExactly("hello from carol");
    assertThat(b.texts(g)).containsExactly("hello from carol");

    // Alice removes Bob: he can no longer read, on the server or cryptographically.
    JsonNode removal = a.agent.call("remove", "groupId", g, "identity", ub.did());
    JsonNode removed = ua.post("removeMember", Map.of("convoId", g, "targetDid", ub.did(),
        "commit", Device.bytes(removal.path("commit").asText()),
        "groupInfo", Device.bytes(removal.path("groupInfo").asText()))).ok();
    assertThat(removed.path("newEpoch").asLong()).isEqualTo(3);
    a.agent.call("applyPending", "groupId", g);
    assertThat(commits(c.receive(g))).singleElement().satisfies(r -> assertThat(r.result().path("epoch").asLong()).isEqualTo(3));
    User.Response bobReads = ub.get("getMessages", "convoId", g);
    assertThat(bobReads.status()).as("%s", bobReads).isEqualTo(403);
    assertThat(bobReads.error()).isEqualTo("NotMember");
    assertThat(ub.post("sendMessage", Map.of("convoId", g, "ciphertext",
        Device.bytes(b.agent.call("encrypt", "groupId", g, "plaintext", "still here?").path("message").asText()))).error())
        .isEqualTo("NotMember");

    String secret = "after bob left";
    String later = a.agent.call("encrypt", "groupId", g, "plaintext", secret).path("message").asText();
    ua.post("sendMessage", Map.of("convoId", g, "ciphertext", Device.bytes(later))).ok();
    assertThat(c.texts(g)).containsExactly(secret);
    // Bob's device, handed the ciphertext anyway: it is for an epoch whose secrets he never gets.
    assertThat(b.agent.callExpectingError("process", "message", later)).contains("future epoch");
    String removeCommit = removal.path("commit").asText();
    assertThat(b.agent.call("process", "message", removeCommit).path("removed").asBoolean()).isTrue();
    assertThat(b.agent.callExpectingError("process", "message", later)).contains("removed");

    // Carol updates her keys (an empty commit with a path, via sendMessage); Alice follows.
    assertThat(updateCommit(c, g).ok().path("epoch").asLong()).as("the commit's own epoch").isEqualTo(3);
    assertThat(commits(a.receive(g))).singleElement().satisfies(r -> {
      assertThat(r.result().path("epoch").asLong()).isEqualTo(4);
      assertThat(r.sender()).isEqualTo(uc.did());
    });
    a.send(g, "new keys, same conversation");
    assertThat(c.texts(g)).containsExactly("new keys, same conversation");
    assertThat(List.of(a.epoch(g), c.epoch(g), serverEpoch(ua, g))).containsOnly(4L);
    assertThat(ua.get("getGroupInfo", "convoId", g).ok().path("epoch").asLong()).isEqualTo(4);
  }

  /**
   * Bob and Carol commit at the same epoch at the same instant: exactly one wins, the other gets 409
   * StaleEpoch with currentEpoch and latestSeq, fetches the winning commit, processes it and retries.
   */
  @Test
  void concurrentCommitsAtOneEpochOneWinsTheLoserCatchesUpAndRetries() {
    User ua = user("alice");
    User ub = user("bob");
    User uc = user("carol");
    Device a = device(ua);
    Device b = device(ub);
    Device c = device(uc);
    b.publish(1);
    c.publish(1);
    String g = newGroupId();
    a.agent.call("createGroup", "groupId", g);
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claim(ua, ub, uc)));
    ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "initialMembers", List.of(ub.did(), uc.did()),
        "commit", Device.bytes(pending.path("commit").asText()), "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    a.agent.call("applyPending", "groupId", g);
    fetchJoinConfirm(b, g);
    fetchJoinConfirm(c, g);

    JsonNode bobsCommit = b.agent.call("update", "groupId", g);
    JsonNode carolsCommit = c.agent.call("update", "groupId", g);
    assertThat(List.of(bobsCommit.path("epoch").asLong(), carolsCommit.path("epoch").asLong())).containsOnly(1L);
    List<User.Response> responses = concurrently(
        () -> ub.post("sendMessage", Map.of("convoId", g, "ciphertext", Device.bytes(bobsCommit.path("commit").asText()))),
        () -> uc.post("sendMessage", Map.of("convoId", g, "ciphertext", Device.bytes(carolsCommit.path("commit").asText()))));
    assertThat(responses.stream().map(User.Response::status)).as("%s", responses).containsExactlyInAnyOrder(200, 409);
    boolean bobWon = responses.get(0).status() == 200;
    Device winner = bobWon ? b : c;
    Device loser = bobWon ? c : b;
    JsonNode winnersCommit = bobWon ? bobsCommit : carolsCommit;
    User.Response won = responses.get(bobWon ? 0 : 1);
    User.Response lost = responses.get(bobWon ? 1 : 0);
    assertThat(lost.error()).isEqualTo("StaleEpoch");
    assertThat(lost.body().path("currentEpoch").asLong()).isEqualTo(2);
    assertThat(lost.body().path("latestSeq").asLong()).isEqualTo(won.body().path("seq").asLong());
    winner.agent.call("applyPending", "groupId", g);

    // The loser fetches the winning commit, processes it (its own pending commit is dropped) and retries.
    // getCommits labels a commit with the epoch it creates: the loser at epoch 1 asks from epoch 2.
    JsonNode fetched = loser.user.get("getCommits", "convoId", g, "fromEpoch", "2").ok().path("commits");
    JsonNode theCommit = StreamSupport.stream(fetched.spliterator(), false)
        .filter(x -> x.path("epoch").asLong() == 2).findFirst().orElseThrow(() -> new AssertionError("no commit creating epoch 2 in " + fetched));
    assertThat(theCommit.path("seq").asLong()).isEqualTo(won.body().path("seq").asLong());
    assertThat(theCommit.path("sender").asText()).isEqualTo(winner.user.did());
    assertThat(decode(theCommit.path("commitData").path("$bytes").asText()))
        .isEqualTo(decode(winnersCommit.path("commit").asText()));
    JsonNode processed = loser.agent.call("process", "message", theCommit.path("commitData").path("$bytes").asText());
    assertThat(processed.path("discardedPending").asBoolean()).isTrue();
    assertThat(processed.path("epoch").asLong()).isEqualTo(2);
    User.Response retry = updateCommit(loser, g);
    assertThat(retry.ok().path("epoch").asLong()).isEqualTo(2);

    // Everyone converges on epoch 3 and can talk.
    assertThat(commits(a.receive(g))).hasSize(2);
    winner.receive(g);
    loser.receive(g);
    assertThat(List.of(a.epoch(g), b.epoch(g), c.epoch(g), serverEpoch(ua, g))).containsOnly(3L);
    a.send(g, "after the race");
    assertThat(b.texts(g)).containsExactly("after the race");
    assertThat(c.texts(g)).containsExactly("after the race");
    loser.send(g, "retried fine");
    assertThat(winner.texts(g)).containsExactly("retried fine");
  }

  /**
   * A conversation under the {@code public} handshake policy with real ts-mls commits (issue 10): every honest
   * commit passes the server's policing; a non-admin's smuggled Remove (naming a member who left as targetDid
   * but removing the admin's leaf) is refused and the group goes on; promote/demote and admin-only adds.
   */
  @Test
  void publicPolicyRefusesASmuggledRemoveAndRolesGovernAdds() {
    User ua = user("alice");
    User ub = user("bob");
    User uc = user("carol");
    User ud = user("dave");
    Device a = device(ua);
    Device b = device(ub);
    Device c = device(uc);
    Device d = device(ud);
    b.publish(1);
    c.publish(1);
    d.publish(2);
    String g = newGroupId();
    a.agent.call("createGroup", "groupId", g);
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claim(ua, ub, uc)));
    JsonNode convo = ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "handshakePolicy", "public",
        "initialMembers", List.of(ub.did(), uc.did()),
        "commit", Device.bytes(pending.path("commit").asText()), "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    assertThat(convo.path("handshakePolicy").asText()).isEqualTo("public");
    a.agent.call("applyPending", "groupId", g);
    fetchJoinConfirm(b, g);
    fetchJoinConfirm(c, g);

    // Carol leaves; Bob (not an admin) commits a Remove of Alice's leaf (0) while naming Carol: refused.
    uc.post("leaveConvo", Map.of("convoId", g)).ok();
    JsonNode smuggled = b.agent.call("remove", "groupId", g, "leafIndex", 0);
    User.Response refused = ub.post("removeMember", Map.of("convoId", g, "targetDid", uc.did(),
        "commit", Device.bytes(smuggled.path("commit").asText())));
    assertThat(refused.status()).as("%s", refused).isEqualTo(403);
    assertThat(refused.error()).isEqualTo("Forbidden");
    b.agent.call("discardPending", "groupId", g);
    // The honest removal of Carol's leaf by Bob is accepted; Alice follows.
    JsonNode removal = b.agent.call("remove", "groupId", g, "identity", uc.did());
    ub.post("removeMember", Map.of("convoId", g, "targetDid", uc.did(),
        "commit", Device.bytes(removal.path("commit").asText()))).ok();
    b.agent.call("applyPending", "groupId", g);
    assertThat(commits(a.receive(g))).hasSize(1);

    // Admin-only adds: Bob's add is refused until Alice promotes him.
    ua.post("updateConvoPolicy", Map.of("convoId", g, "adminOnlyAdds", true)).ok();
    JsonNode bobsAdd = b.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claim(ub, ud)));
    User.Response notAdmin = ub.post("addMembers", Map.of("convoId", g, "didList", List.of(ud.did()),
        "commit", Device.bytes(bobsAdd.path("commit").asText()), "welcome", Device.bytes(bobsAdd.path("welcome").asText())));
    assertThat(notAdmin.error()).as("%s", notAdmin).isEqualTo("NotAdmin");
    b.agent.call("discardPending", "groupId", g);
    ua.post("promoteAdmin", Map.of("convoId", g, "targetDid", ub.did())).ok();
    addMembers(b, g, claim(ub, ud), ud);
    fetchJoinConfirm(d, g);
    assertThat(commits(a.receive(g))).hasSize(1);
    JsonNode demoted = ub.post("demoteAdmin", Map.of("convoId", g, "targetDid", ua.did())).ok();
    assertThat(demoted.path("role").asText()).isEqualTo("member");
    assertThat(roles(ub.get("getConvos").ok().path("conversations").get(0)))
        .containsExactlyInAnyOrderEntriesOf(Map.of(ua.did(), "member", ub.did(), "admin", ud.did(), "member"));

    // Everyone left in the group talks.
    a.send(g, "policed and still talking");
    assertThat(b.texts(g)).containsExactly("policed and still talking");
    assertThat(d.texts(g)).containsExactly("policed and still talking");
    d.send(g, "hello from dave");
    assertThat(a.texts(g)).containsExactly("hello from dave");
    assertThat(List.of(a.epoch(g), b.epoch(g), d.epoch(g), serverEpoch(ua, g))).containsOnly(3L);
  }

  /**
   * Issue 10: under the {@code any} policy a member's junk encrypted "commit" (security review H5) is accepted
   * and kills the epoch: no member can process it and every honest commit is refused. An admin resets the
   * group: a new ts-mls group under the same conversation, re-adding everyone from fresh KeyPackages. The old
   * group's traffic gets 409 GroupReset naming the new group; each member joins from the Welcome getWelcome
   * gives it; then all members exchange messages and commit again.
   */
  @Test
  void aBrokenEpochUnderAnyIsRecoveredByGroupReset() {
    User ua = user("alice");
    User ub = user("bob");
    User uc = user("carol");
    Device a = device(ua);
    Device b = device(ub);
    Device c = device(uc);
    b.publish(1);
    c.publish(1);
    String g = newGroupId();
    a.agent.call("createGroup", "groupId", g);
    JsonNode pending = a.agent.call("addMembers", "groupId", g, "keyPackages", keyPackageBytes(claim(ua, ub, uc)));
    ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "handshakePolicy", "any",
        "initialMembers", List.of(ub.did(), uc.did()),
        "commit", Device.bytes(pending.path("commit").asText()), "welcome", Device.bytes(pending.path("welcome").asText()),
        "groupInfo", Device.bytes(pending.path("groupInfo").asText()))).ok();
    a.agent.call("applyPending", "groupId", g);
    fetchJoinConfirm(b, g);
    fetchJoinConfirm(c, g);
    a.send(g, "before");
    assertThat(b.texts(g)).containsExactly("before");
    assertThat(c.texts(g)).containsExactly("before");

    // Bob sends a junk "commit" (an encrypted PrivateMessage the server cannot read) for epoch 1: accepted.
    long junkSeq = ub.post("sendMessage", Map.of("convoId", g, "ciphertext",
        Map.of("$bytes", java.util.Base64.getEncoder().encodeToString(junkCommit(g, 1))))).ok().path("seq").asLong();
    assertThat(serverEpoch(ua, g)).isEqualTo(2);
    // Nobody can process it, and every honest commit now loses to it: the epoch is dead.
    assertThatThrownBy(() -> c.receive(g)).isInstanceOf(MlsAgent.AgentError.class);
    assertThatThrownBy(() -> a.receive(g)).isInstanceOf(MlsAgent.AgentError.class);
    User.Response dead = updateCommit(a, g);
    assertThat(dead.error()).as("%s", dead).isEqualTo("StaleEpoch");
    a.agent.call("discardPending", "groupId", g);
    JsonNode report = uc.post("reportUnprocessableCommit", Map.of("convoId", g, "seq", junkSeq, "reason", "cannot decrypt"))
        .ok();
    assertThat(report.path("senderDid").asText()).isEqualTo(ub.did());

    // Alice (admin) resets: a new group g2 under the same conversation, Bob and Carol re-added from fresh KeyPackages.
    b.publish(1);
    c.publish(1);
    String g2 = newGroupId();
    a.agent.call("createGroup", "groupId", g2);
    JsonNode fresh = a.agent.call("addMembers", "groupId", g2, "keyPackages", keyPackageBytes(claim(ua, ub, uc)));
    JsonNode reset = ua.post("resetGroup", Map.of("convoId", g, "fromGroupId", g, "fromEpoch", 2, "groupId", g2,
        "didList", List.of(ub.did(), uc.did()), "commit", Device.bytes(fresh.path("commit").asText()),
        "welcome", Device.bytes(fresh.path("welcome").asText()), "groupInfo", Device.bytes(fresh.path("groupInfo").asText()),
        "reason", "epoch 2 cannot be processed")).ok();
    assertThat(reset.path("groupId").asText()).isEqualTo(g2);
    assertThat(reset.path("epoch").asLong()).isEqualTo(1);
    assertThat(reset.path("welcomeRecipients")).hasSize(2);
    long resetSeq = reset.path("resetSeq").asLong();
    assertThat(a.agent.call("applyPending", "groupId", g2).path("epoch").asLong()).isEqualTo(1);
    a.resetTo(g, g2, resetSeq);
    assertThat(storedEvents(g, "groupResetEvent")).singleElement()
        .satisfies(e -> assertThat(e).containsEntry("groupId", g2).containsEntry("previousGroupId", g));

    // Carol, not yet aware, sends in the old group: 409 GroupReset names the new group; she joins it.
    JsonNode old = c.agent.call("encrypt", "groupId", g, "plaintext", "into the void");
    User.Response refused = uc.post("sendMessage", Map.of("convoId", g, "ciphertext", Device.bytes(old.path("message").asText())));
    assertThat(refused.status()).as("%s", refused).isEqualTo(409);
    assertThat(refused.error()).isEqualTo("GroupReset");
    assertThat(refused.body().path("groupId").asText()).isEqualTo(g2);
    assertThat(refused.body().path("resetSeq").asLong()).isEqualTo(resetSeq);
    c.resetTo(g, g2, resetSeq);
    fetchJoinConfirm(c, g, g2);
    // Bob learns it from getConvos (groupId is the new group) and joins too.
    assertThat(ub.get("getConvos").ok().path("conversations").get(0).path("groupId").asText()).isEqualTo(g2);
    b.resetTo(g, g2, resetSeq);
    fetchJoinConfirm(b, g, g2);

    // Everyone talks again, and commits work again (Bob's key update is processed by both others).
    a.send(g, "after the reset");
    assertThat(b.texts(g)).containsExactly("after the reset");
    assertThat(c.texts(g)).containsExactly("after the reset");
    b.send(g, "bob is back");
    assertThat(a.texts(g)).containsExactly("bob is back");
    assertThat(c.texts(g)).containsExactly("bob is back");
    assertThat(updateCommit(b, g).status()).isEqualTo(200);
    assertThat(commits(a.receive(g))).hasSize(1);
    assertThat(commits(c.receive(g))).hasSize(1);
    c.send(g, "carol too");
    assertThat(a.texts(g)).containsExactly("carol too");
    assertThat(b.texts(g)).containsExactly("carol too");
    assertThat(List.of(a.epoch(g), b.epoch(g), c.epoch(g), serverEpoch(ua, g))).containsOnly(2L);
    // The history from before the reset is still readable.
    JsonNode history = ua.get("getMessages", "convoId", g, "sinceSeq", "0", "limit", "100").ok().path("messages");
    assertThat(history.get(0).path("seq").asLong()).isEqualTo(1);
    assertThat(history.size()).isGreaterThan((int) resetSeq);
  }

  /** A PrivateMessage commit for {@code group} at {@code epoch} whose encrypted parts are random: nobody can open it. */
  static byte[] junkCommit(String group, long epoch) {
    byte[] id = java.util.HexFormat.of().parseHex(group);
    byte[] senderData = new byte[40];
    byte[] ciphertext = new byte[60];
    new java.security.SecureRandom().nextBytes(senderData);
    new java.security.SecureRandom().nextBytes(ciphertext);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.writeBytes(new byte[] {0, 1, 0, 2}); // mls10, mls_private_message
    out.write(id.length);
    out.writeBytes(id);
    for (int i = 7; i >= 0; i--) {
      out.write((int) (epoch >>> (8 * i)) & 0xff);
    }
    out.write(3); // content_type commit
    out.write(0); // authenticated_data<V>: empty
    out.write(senderData.length);
    out.writeBytes(senderData);
    out.write(ciphertext.length);
    out.writeBytes(ciphertext);
    return out.toByteArray();
  }

  private static Map<String, String> roles(JsonNode convo) {
    return StreamSupport.stream(convo.path("members").spliterator(), false)
        .collect(Collectors.toMap(m -> m.path("did").asText(), m -> m.path("role").asText()));
  }

  private static byte[] decode(String base64) {
    return java.util.Base64.getDecoder().decode(base64);
  }
}
