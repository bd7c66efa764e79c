package dev.mlsds.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link BcMlsClient} behind the agent protocol (e2e/agent/README.md): the same op names, arguments and JSON results
 * as the Node ts-mls agent, so a {@link Device} and the fixture's client steps drive either implementation the same
 * way. Only the ops the suite needs with bcmls are here: {@code init}, {@code keyPackages}, {@code createGroup},
 * {@code addMembers}, {@code update}, {@code applyPending}, {@code discardPending}, {@code join}, {@code encrypt},
 * {@code process}, {@code epoch}, {@code members}, {@code groupInfo}. Anything else fails like an agent error.
 * Calls are in-process and synchronous: nothing to wait for, nothing to kill.
 */
final class BcMlsAgent implements MlsOps {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Base64.Encoder B64 = Base64.getEncoder();
  private static final Base64.Decoder UNB64 = Base64.getDecoder();

  private final String name;
  private BcMlsClient client;

  BcMlsAgent(String name) {
    this.name = name;
  }

  /** The typed client, for tests that want it directly (after {@code init}). */
  BcMlsClient client() {
    if (client == null) {
      throw new IllegalStateException(name + ": init first");
    }
    return client;
  }

  @Override
  public JsonNode call(String op, Object... args) {
    try {
      return run(op, args(args));
    } catch (BcMlsClient.MlsException | IllegalArgumentException | IllegalStateException e) {
      throw new MlsAgent.AgentError(name, op, e.getMessage());
    }
  }

  @Override
  public String callExpectingError(String op, Object... args) {
    JsonNode result;
    try {
      result = run(op, args(args));
    } catch (BcMlsClient.MlsException | IllegalArgumentException | IllegalStateException e) {
      return e.getMessage();
    }
    throw new AssertionError(name + ": " + op + " was expected to fail but returned " + result);
  }

  private static Map<String, JsonNode> args(Object... args) {
    if (args.length % 2 != 0) {
      throw new IllegalArgumentException("arguments come in name, value pairs");
    }
    Map<String, JsonNode> out = new HashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      out.put((String) args[i], JSON.valueToTree(args[i + 1]));
    }
    return out;
  }

  private JsonNode run(String op, Map<String, JsonNode> a) {
    ObjectNode r = JSON.createObjectNode();
    switch (op) {
      case "init" -> {
        String suite = a.containsKey("suite") ? a.get("suite").asText() : "1";
        if (!suite.equals("1") && !suite.equals(E2eFixture.SUITE)) {
          throw new IllegalArgumentException("the bcmls client does suite 1 only, not " + suite);
        }
        client = new BcMlsClient(text(a, "identity"));
        r.put("signaturePublicKey", b64(client.signaturePublicKey()));
        r.put("suite", BcMlsClient.SUITE_ID);
        r.put("suiteName", E2eFixture.SUITE);
      }
      case "keyPackages" -> {
        int count = a.get("count").asInt();
        List<BcMlsClient.OwnKeyPackage> kps;
        if (a.containsKey("notBefore") || a.containsKey("notAfter")) {
          long now = java.time.Instant.now().getEpochSecond();
          kps = client().keyPackages(count, a.containsKey("notBefore") ? a.get("notBefore").asLong() : now - 60,
              a.containsKey("notAfter") ? a.get("notAfter").asLong() : now + BcMlsClient.DEFAULT_LIFETIME_SECONDS);
        } else {
          kps = client().keyPackages(count,
              a.containsKey("lifetimeSeconds") ? a.get("lifetimeSeconds").asLong() : BcMlsClient.DEFAULT_LIFETIME_SECONDS);
        }
        ArrayNode list = r.putArray("keyPackages");
        for (BcMlsClient.OwnKeyPackage kp : kps) {
          list.addObject().put("keyPackage", b64(kp.message())).put("keyPackageRef", kp.ref());
        }
      }
      case "createGroup" -> r.put("groupId", text(a, "groupId")).put("epoch", client().createGroup(text(a, "groupId")));
      case "addMembers" -> {
        List<byte[]> kps = new ArrayList<>();
        a.get("keyPackages").forEach(k -> kps.add(unb64(k.asText())));
        pending(r, client().addMembers(text(a, "groupId"), kps));
      }
      case "update" -> pending(r, client().update(text(a, "groupId")));
      case "applyPending" -> r.put("epoch", client().applyPending(text(a, "groupId")));
      case "discardPending" -> {
        String g = text(a, "groupId");
        r.put("discarded", client().discardPending(g)).put("epoch", client().epoch(g));
      }
      case "join" -> {
        byte[] tree = a.containsKey("ratchetTree") ? unb64(a.get("ratchetTree").asText()) : null;
        BcMlsClient.Joined j = client().join(unb64(text(a, "welcome")), tree);
        r.put("groupId", j.groupId()).put("epoch", j.epoch()).put("keyPackageRef", j.keyPackageRef())
            .put("leafIndex", j.leafIndex());
      }
      case "encrypt" -> {
        byte[] plaintext = a.containsKey("plaintextBase64") ? unb64(a.get("plaintextBase64").asText())
            : text(a, "plaintext").getBytes(StandardCharsets.UTF_8);
        BcMlsClient.Encrypted e = client().encrypt(text(a, "groupId"), plaintext);
        r.put("message", b64(e.message())).put("epoch", e.epoch());
      }
      case "process" -> {
        BcMlsClient.Processed p = client().process(a.containsKey("groupId") ? a.get("groupId").asText() : null,
            unb64(text(a, "message")));
        r.put("kind", p.kind()).put("epoch", p.epoch());
        if (p.own()) {
          r.put("own", true);
        }
        if (p.alreadyApplied()) {
          r.put("alreadyApplied", true);
        }
        if (p.discardedPending()) {
          r.put("discardedPending", true);
        }
        if (p.plaintext() != null) {
          r.put("plaintext", new String(p.plaintext(), StandardCharsets.UTF_8)).put("plaintextBase64", b64(p.plaintext()));
        }
      }
      case "epoch" -> {
        String g = text(a, "groupId");
        r.put("epoch", client().epoch(g));
        if (client().hasPending(g)) {
          r.put("pendingEpoch", client().epoch(g) + 1);
        }
      }
      case "members" -> {
        String g = text(a, "groupId");
        r.put("epoch", client().epoch(g)).put("ownLeafIndex", client().ownLeafIndex(g));
        ArrayNode list = r.putArray("members");
        for (BcMlsClient.Member m : client().members(g)) {
          list.addObject().put("leafIndex", m.leafIndex()).put("identity", m.identity())
              .put("signaturePublicKey", b64(m.signaturePublicKey()));
        }
      }
      case "groupInfo" -> {
        String g = text(a, "groupId");
        r.put("groupInfo", b64(client().groupInfo(g))).put("epoch", client().epoch(g));
      }
      default -> throw new IllegalArgumentException("op " + op + " is not supported by the bcmls client");
    }
    return r;
  }

  private static void pending(ObjectNode r, BcMlsClient.PendingCommit c) {
    r.put("commit", b64(c.commit()));
    if (c.welcome() != null) {
      r.put("welcome", b64(c.welcome()));
    }
    r.put("groupInfo", b64(c.groupInfo())).put("epoch", c.epoch()).put("newEpoch", c.newEpoch());
  }

  private static String text(Map<String, JsonNode> a, String key) {
    JsonNode v = a.get(key);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException(key + ": expected a string");
    }
    return v.asText();
  }

  private static String b64(byte[] bytes) {
    return B64.encodeToString(bytes);
  }

  private static byte[] unb64(String s) {
    return UNB64.decode(s);
  }

  @Override
  public String toString() {
    return "BcMlsAgent[" + name + "]";
  }
}
