package dev.mlsds.server.keypackages;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The seed document's Test Case 2 ("Multi-Device Scenario"), word for word, on a real node over HTTP, run
 * on every backend. The seed server returned "ALL unconsumed key packages for a user"; here the contract
 * is one KeyPackage per device, each reserved for the adder, which is what makes both expected results hold.
 */
abstract class KeyPackageSeedCase2Contract {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  Server server;

  abstract String newDatabaseUrl();

  void dropDatabase() {}

  @BeforeEach
  void start() {
    server = TestServers.start(newDatabaseUrl());
  }

  @AfterEach
  void stop() {
    server.stop();
    dropDatabase();
  }

  static Http.Response ok(Http.Response r) {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r;
  }

  static byte[] publish(TestUser user, TestUser.Device device) {
    byte[] kp = device.keyPackage();
    JsonNode r = ok(user.post("publishKeyPackages", Map.of("keyPackages", List.of(Map.of("keyPackage", bytes(kp)))))).json();
    assertThat(r.at("/results/0/status").asText()).isEqualTo("published");
    return kp;
  }

  /** Creates a conversation and adds {@code member} with one KeyPackage through a commit bundle. */
  static Http.Response addToNewConversation(TestUser adder, TestUser member, byte[] keyPackage) {
    byte[] groupId = new byte[16];
    new SecureRandom().nextBytes(groupId);
    String convoId = HexFormat.of().formatHex(groupId);
    ok(adder.post("createConvo", Map.of("groupId", convoId, "cipherSuite", SUITE.name())));
    return adder.post("addMembers", Map.of("convoId", convoId, "didList", List.of(member.did().value()),
        "commit", bytes(TestMessages.commit(groupId, 0, 0, List.of(keyPackage), List.of(), false)),
        "welcome", bytes(TestMessages.welcome(SUITE, List.of(KeyPackage.decode(keyPackage).ref()))),
        "groupInfo", bytes(TestMessages.groupInfo(SUITE, groupId, 1, true))));
  }

  /** Seed document, Test Case 2: Multi-Device Scenario. */
  @Test
  void seedCase2_multiDeviceScenario() {
    TestUser userA = TestUser.on(server);
    TestUser userB = TestUser.on(server);
    TestUser.Device device1 = userA.device();
    TestUser.Device device2 = userA.device();

    // 1. User A publishes key package from Device 1
    byte[] device1Package = publish(userA, device1);
    // 2. User A publishes key package from Device 2
    byte[] device2Package = publish(userA, device2);
    // 3. User B calls getKeyPackages for User A
    JsonNode got = ok(userB.get("getKeyPackages", "dids", userA.did().value())).json();

    // Expected Result: Returns BOTH key packages
    assertThat(got.get("missing")).isEmpty();
    assertThat(got.get("keyPackages")).hasSize(2);
    // - Device 1 package
    JsonNode fromDevice1 = byDevice(got, device1.deviceId());
    assertThat(Base64.getUrlDecoder().decode(fromDevice1.get("keyPackage").asText())).isEqualTo(device1Package);
    assertThat(fromDevice1.get("keyPackageRef").asText()).isEqualTo(TestUser.ref(device1Package));
    // - Device 2 package
    JsonNode fromDevice2 = byDevice(got, device2.deviceId());
    assertThat(Base64.getUrlDecoder().decode(fromDevice2.get("keyPackage").asText())).isEqualTo(device2Package);
    assertThat(fromDevice2.get("keyPackageRef").asText()).isEqualTo(TestUser.ref(device2Package));
    // - User B can add User A to two different conversations (one per device)
    assertThat(ok(addToNewConversation(userB, userA, device1Package)).json().at("/welcomeRecipients/0/deviceId")
        .asText()).isEqualTo(device1.deviceId());
    assertThat(ok(addToNewConversation(userB, userA, device2Package)).json().at("/welcomeRecipients/0/deviceId")
        .asText()).isEqualTo(device2.deviceId());

    // And neither KeyPackage can be handed out, or used, a second time.
    assertThat(ok(userB.get("getKeyPackages", "dids", userA.did().value())).json().get("missing").get(0).asText())
        .isEqualTo(userA.did().value());
    Http.Response reuse = addToNewConversation(userB, userA, device1Package);
    assertThat(reuse.status()).isEqualTo(400);
    assertThat(reuse.error()).isEqualTo("KeyPackageNotFound");
  }

  static JsonNode byDevice(JsonNode got, String deviceId) {
    for (JsonNode k : got.get("keyPackages")) {
      if (k.get("deviceId").asText().equals(deviceId)) {
        return k;
      }
    }
    throw new AssertionError("no KeyPackage for device " + deviceId + " in " + got);
  }
}
