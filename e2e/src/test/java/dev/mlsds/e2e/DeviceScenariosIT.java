package dev.mlsds.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.Device.KeyPackage;
import dev.mlsds.e2e.Device.Received;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * Devices and their KeyPackages end to end (ts-mls clients, a running node on SQLite, real tokens): newer
 * KeyPackages published between being added and joining, one Welcome per device of a user, rejoining by
 * external commit after losing state, and a reinstalled device that syncs its KeyPackages and is re-added.
 */
class DeviceScenariosIT extends E2eFixture {
  @Override
  String openDatabase() {
    return Databases.sqlite();
  }

  @Override
  void closeDatabase() {}

  /**
   * The seed document's case 1 with real MLS: Bob publishes newer KeyPackages after being added and
   * before joining; the Welcome still names (and opens with) the one he was added with.
   */
  @Test
  void memberPublishesNewKeyPackagesBetweenBeingAddedAndJoining() {
    User ua = user("alice");
    User ub = user("bob");
    Device a = device(ua);
    Device b = device(ub);
    KeyPackage first = b.publish(1).get(0);
    String g = createEmptyConvo(a);
    JsonNode added = addMembers(a, g, claim(ua, ub), ub);
    assertThat(added.path("welcomeRecipients").get(0).path("keyPackageRef").asText()).isEqualTo(first.ref());

    List<KeyPackage> newer = b.publish(2);

    // No deviceId: Bob has one device with a Welcome here.
    JsonNode w = ub.get("getWelcome", "convoId", g).ok();
    assertThat(w.path("keyPackageRef").asText()).isEqualTo(first.ref());
    JsonNode joined = b.join(E2eFixture.standard(w.path("welcome").asText()));
    assertThat(joined.path("keyPackageRef").asText()).isEqualTo(first.ref());
    ub.post("confirmWelcome", Map.of("convoId", g, "success", true)).ok();

    b.send(g, "joined despite newer KeyPackages");
    assertThat(a.texts(g)).containsExactly("joined despite newer KeyPackages");
    a.send(g, "welcome, bob");
    assertThat(b.texts(g)).containsExactly("welcome, bob");
    // The newer KeyPackages are still there for the next adder; the used one is never handed out again.
    JsonNode next = claim(ua, ub);
    assertThat(next).hasSize(1);
    assertThat(next.get(0).path("keyPackageRef").asText()).isIn(newer.stream().map(KeyPackage::ref).toList());
  }

  /** A user with two devices gets one Welcome per device; both join and decrypt. */
  @Test
  void userWithTwoDevicesGetsOneWelcomePerDevice() {
    User ua = user("alice");
    User ub = user("bob");
    Device a = device(ua);
    Device phone = device(ub);
    Device laptop = device(ub);
    KeyPackage phoneKp = phone.publish(1).get(0);
    KeyPackage laptopKp = laptop.publish(1).get(0);
    String g = createEmptyConvo(a);

    JsonNode claimed = claim(ua, ub);
    assertThat(claimed).as("one KeyPackage per device").hasSize(2);
    assertThat(deviceToRef(claimed)).containsExactlyInAnyOrderEntriesOf(
        Map.of(phone.deviceId, phoneKp.ref(), laptop.deviceId, laptopKp.ref()));
    JsonNode added = addMembers(a, g, claimed, ub);
    assertThat(deviceToRef(added.path("welcomeRecipients"))).containsExactlyInAnyOrderEntriesOf(
        Map.of(phone.deviceId, phoneKp.ref(), laptop.deviceId, laptopKp.ref()));

    // The phone joins and confirms first; the laptop's Welcome is untouched by that.
    assertThat(fetchJoinConfirm(phone, g).path("keyPackageRef").asText()).isEqualTo(phoneKp.ref());
    assertThat(fetchJoinConfirm(laptop, g).path("keyPackageRef").asText()).isEqualTo(laptopKp.ref());
    JsonNode view = ub.get("getConvos").ok().path("conversations").get(0);
    assertThat(view.path("id").asText()).isEqualTo(g);
    JsonNode bobView = StreamSupport.stream(view.path("members").spliterator(), false)
        .filter(m -> m.path("did").asText().equals(ub.did())).findFirst().orElseThrow();
    assertThat(StreamSupport.stream(bobView.path("devices").spliterator(), false).map(JsonNode::asText).toList())
        .containsExactlyInAnyOrder(phone.deviceId, laptop.deviceId);

    a.send(g, "to both of your devices");
    assertThat(phone.texts(g)).containsExactly("to both of your devices");
    assertThat(laptop.texts(g)).containsExactly("to both of your devices");
    phone.send(g, "from my phone");
    assertThat(a.texts(g)).containsExactly("from my phone");
    assertThat(laptop.texts(g)).containsExactly("from my phone");
  }

  /**
   * A device that lost its state rejoins by external commit with the GroupInfo the server stores: first
   * the same process after dropping its group state, then a fresh process (new key) for the same DID.
   */
  @Test
  void deviceThatLostItsStateRejoinsByExternalCommit() {
    User ua = user("alice");
    User ub = user("bob");
    Device a = device(ua);
    Device b = device(ub);
    b.publish(1);
    String g = createEmptyConvo(a);
    addMembers(a, g, claim(ua, ub), ub);
    fetchJoinConfirm(b, g);
    b.send(g, "before the crash");
    assertThat(a.texts(g)).containsExactly("before the crash");

    // 1. Bob's device loses its group state and rejoins, replacing its own leaf.
    assertThat(b.agent.call("forget", "groupId", g).path("forgotten").asBoolean()).isTrue();
    JsonNode stored = ub.get("getGroupInfo", "convoId", g).ok();
    assertThat(stored.path("epoch").asLong()).isEqualTo(1);
    JsonNode ext = b.agent.call("externalJoin", "groupInfo", stored.path("groupInfo").path("$bytes").asText());
    assertThat(ext.path("removedLeafIndex").isMissingNode()).as("resync removes the old leaf: %s", ext).isFalse();
    JsonNode accepted = ub.post("processExternalCommit", Map.of("convoId", g, "commit", Device.bytes(ext.path("commit").asText()),
        "groupInfo", Device.bytes(ext.path("groupInfo").asText()))).ok();
    assertThat(accepted.path("epoch").asLong()).isEqualTo(2);
    b.joinedAsExistingMember(g, 2);
    assertThat(commits(a.receive(g))).singleElement().satisfies(r -> {
      assertThat(r.result().path("senderType").asText()).isEqualTo("new_member_commit");
      assertThat(r.result().path("epoch").asLong()).isEqualTo(2);
    });
    b.receive(g);
    a.send(g, "welcome back");
    assertThat(b.texts(g)).containsExactly("welcome back");
    b.send(g, "thanks");
    assertThat(a.texts(g)).containsExactly("thanks");

    // 2. A reinstall: a brand-new process (new signature key) for Bob's DID takes over his leaf.
    Device reinstalled = device(ub);
    JsonNode latest = ub.get("getGroupInfo", "convoId", g).ok();
    assertThat(latest.path("epoch").asLong()).isEqualTo(2);
    JsonNode ext2 = reinstalled.agent.call("externalJoin", "groupInfo", latest.path("groupInfo").path("$bytes").asText(),
        "identity", ub.did());
    ub.post("processExternalCommit", Map.of("convoId", g, "commit", Device.bytes(ext2.path("commit").asText()),
        "groupInfo", Device.bytes(ext2.path("groupInfo").asText()))).ok();
    reinstalled.joinedAsExistingMember(g, 3);
    assertThat(commits(a.receive(g))).singleElement().satisfies(r -> assertThat(r.result().path("epoch").asLong()).isEqualTo(3));
    assertThat(commits(b.receive(g))).singleElement().satisfies(r -> assertThat(r.result().path("removed").asBoolean()).isTrue());
    a.send(g, "hello again, new install");
    assertThat(reinstalled.texts(g)).containsExactly("hello again, new install");
    reinstalled.send(g, "all good");
    assertThat(a.texts(g)).containsExactly("all good");
    assertThat(List.of(a.epoch(g), reinstalled.epoch(g), serverEpoch(ua, g))).containsOnly(3L);
  }

  /**
   * Dana is added while her Welcome is still pending; her app is reinstalled (MLS state and KeyPackage
   * private keys gone, a new signature key). The new install syncs the old device's KeyPackages (it
   * holds none of them) and its own (it holds them all): the old ones are deleted, the pending Welcome
   * becomes unusable (404) and the conversation gets a readdRequestedEvent; Alice re-adds Dana with a
   * fresh KeyPackage from the new install, which joins.
   */
  @Test
  void reinstalledDeviceSyncsItsKeyPackagesAndIsReadded() {
    User ua = user("alice");
    User ud = user("dana");
    Device a = device(ua);
    Device before = device(ud);
    before.publish(2);
    String g = createEmptyConvo(a);
    JsonNode firstAdd = addMembers(a, g, claim(ua, ud), ud);
    String oldDevice = before.deviceId;
    assertThat(firstAdd.path("welcomeRecipients").get(0).path("deviceId").asText()).isEqualTo(oldDevice);

    before.agent.close(); // the reinstall: every MLS secret of that device is gone
    Device after = device(ud);
    List<KeyPackage> fresh = after.publish(2);
    JsonNode own = ud.post("syncKeyPackages", Map.of("deviceId", after.deviceId,
        "keyPackageRefs", fresh.stream().map(KeyPackage::ref).toList())).ok();
    assertThat(own.path("kept").asInt()).isEqualTo(2);
    assertThat(own.path("deleted").asInt()).isZero();
    JsonNode old = ud.post("syncKeyPackages", Map.of("deviceId", oldDevice, "keyPackageRefs", List.of())).ok();
    assertThat(old.path("kept").asInt()).isZero();
    assertThat(old.path("deleted").asInt()).as("the used KeyPackage and the unused one").isEqualTo(2);
    assertThat(old.path("welcomesInvalidated").asInt()).isEqualTo(1);

    assertThat(storedEvents(g, "readdRequestedEvent")).singleElement().satisfies(e -> {
      assertThat(e).containsEntry("convoId", g).containsEntry("did", ud.did()).containsEntry("deviceId", oldDevice);
    });
    assertThat(ud.get("getWelcome", "convoId", g, "deviceId", oldDevice).error()).isEqualTo("WelcomeNotFound");
    assertThat(ud.get("getWelcome", "convoId", g).error()).isEqualTo("WelcomeNotFound");

    // Re-add: Dana's only KeyPackages now are the new install's; her stale leaf holds keys nobody has.
    JsonNode claimed = claim(ua, ud);
    assertThat(claimed).singleElement().satisfies(k -> assertThat(k.path("deviceId").asText()).isEqualTo(after.deviceId));
    JsonNode readded = addMembers(a, g, claimed, ud);
    assertThat(readded.path("welcomeRecipients")).singleElement()
        .satisfies(r -> assertThat(r.path("deviceId").asText()).isEqualTo(after.deviceId));
    JsonNode w = after.user.get("getWelcome", "convoId", g, "deviceId", after.deviceId).ok();
    assertThat(fresh.stream().map(KeyPackage::ref)).contains(w.path("keyPackageRef").asText());
    JsonNode joined = after.agent.call("join", "welcome", E2eFixture.standard(w.path("welcome").asText()));
    // Dana has been a member since the first add: her log starts there, before this device's epoch.
    after.joinedAsExistingMember(g, joined.path("epoch").asLong());
    ud.post("confirmWelcome", Map.of("convoId", g, "deviceId", after.deviceId, "success", true)).ok();
    assertThat(after.epoch(g)).isEqualTo(2);

    after.send(g, "back after the reinstall");
    assertThat(a.texts(g)).containsExactly("back after the reinstall");
    a.send(g, "good to have you back");
    assertThat(after.texts(g)).containsExactly("good to have you back");
  }

  private static Map<String, String> deviceToRef(JsonNode items) {
    return StreamSupport.stream(items.spliterator(), false)
        .collect(Collectors.toMap(m -> m.path("deviceId").asText(), m -> m.path("keyPackageRef").asText()));
  }
}
