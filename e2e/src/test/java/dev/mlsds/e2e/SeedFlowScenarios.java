package dev.mlsds.e2e;

import static dev.mlsds.e2e.SeedClient.statusOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.SeedClient.Sent;
import dev.mlsds.e2e.SeedTypes.CommitMessage;
import dev.mlsds.e2e.SeedTypes.ConvoView;
import dev.mlsds.e2e.SeedTypes.EpochChange;
import dev.mlsds.e2e.SeedTypes.GetKeyPackagesOutput;
import dev.mlsds.e2e.SeedTypes.GetMessagesOutput;
import dev.mlsds.e2e.SeedTypes.MessageEvent;
import dev.mlsds.e2e.SeedTypes.MessageView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The seed flow of issue 9 through a real node, driven by three seed-era clients ({@link SeedClient}: the 2025-10-31
 * app's request shapes, its strict decoding) whose MLS side is ts-mls. Nothing here uses a method, field or
 * parameter the seed lexicons do not define, except the last step (removeMember), which a seed client never had.
 */
abstract class SeedFlowScenarios extends E2eFixture {
  /** A small page, so that the client's own cursor paging runs; the request shape is the seed client's. */
  private static final int PAGE = 4;

  /** Application messages a client has read, by message id, and the ids it has handed to its MLS state. */
  private final Map<SeedClient, Set<String>> processed = new LinkedHashMap<>();
  /** The id of the last message each client read with getMessages: its next {@code sinceMessage}. */
  private final Map<SeedClient, String> lastRead = new HashMap<>();

  private SeedClient seed(String name) {
    SeedClient c = new SeedClient(device(user(name)));
    processed.put(c, new HashSet<>());
    return c;
  }

  @Test
  void theSeedEraClientRunsTheWholeSeedFlow() {
    SeedClient a = seed("alice");
    SeedClient b = seed("bob");
    SeedClient c = seed("carol");

    // 1. A checks its own inventory (the app does so on its own DID at start), publishes a bare KeyPackage, checks again.
    a.getKeyPackages(List.of(a.did()));
    byte[] published = a.publishKeyPackage();
    GetKeyPackagesOutput own = a.getKeyPackages(List.of(a.did()));
    assertThat(own.keyPackages()).as("A sees its KeyPackage").hasSize(1);
    c.publishKeyPackage();

    // 2. B claims it: A's look at its own DID reserved nothing.
    GetKeyPackagesOutput claimed = b.getKeyPackages(List.of(a.did()));
    assertThat(claimed.missing() == null || claimed.missing().isEmpty()).as("missing %s", claimed.missing()).isTrue();
    assertThat(claimed.keyPackages()).hasSize(1);
    assertThat(claimed.keyPackages().get(0).did()).isEqualTo(a.did());
    assertThat(claimed.keyPackages().get(0).cipherSuite()).isEqualTo(SeedClient.SUITE);
    assertThat(SeedClient.wrapped(claimed.keyPackages().get(0).keyPackage())).isEqualTo(SeedClient.wrapped(published));

    // 3. B creates the conversation with A as initial member: Welcome, no commit. Epoch 1 by MLS.
    String groupId = newGroupId();
    ConvoView created = b.createGroup(groupId, List.of(a.did()), claimed, "seed flow");
    assertThat(created.groupId()).isEqualToIgnoringCase(groupId);
    assertThat(created.creator()).isEqualTo(b.did());
    assertThat(created.epoch()).isEqualTo(1);
    assertThat(created.memberDids()).containsExactlyInAnyOrder(a.did(), b.did());
    assertThat(b.localEpoch(groupId)).isEqualTo(1);
    String convoId = created.id();

    // 4. A lists it, fetches the Welcome and joins.
    ConvoView atA = a.convo(convoId);
    assertThat(atA.groupId()).isEqualToIgnoringCase(groupId);
    assertThat(atA.epoch()).isEqualTo(1);
    assertThat(a.joinFromWelcome(atA)).isEqualTo(1);

    // 5. Messages both ways, ciphertexts of every length mod 3: A reads live over SSE, B with sinceMessage paging.
    List<Sent> fromA = new ArrayList<>();
    List<Sent> fromB = new ArrayList<>();
    try (SeedEventStream aStream = a.streamConvoEvents(convoId)) {
      for (Sent s : sendEveryResidue(b, atA, "from bob")) {
        fromB.add(s);
        MessageView m = aStream.next(MessageEvent.class, e -> e.message().id().equals(s.output().messageId()),
            "messageEvent " + s.output().messageId()).message();
        assertThat(m.ciphertext()).as("SSE ciphertext = what B sent").isEqualTo(s.ciphertext());
        assertThat(m.sender()).isEqualTo(b.did());
        assertThat(m.convoId()).isEqualTo(convoId);
        assertThat(m.epoch()).isEqualTo(1);
        assertThat(decrypt(a, groupId, m)).isEqualTo(s.plaintext());
      }
      fromA.addAll(sendEveryResidue(a, atA, "from alice"));
      List<MessageView> log = readWithClientPaging(b, convoId);
      assertThat(log.stream().map(MessageView::id).toList()).as("B's history paging reaches every message")
          .containsExactlyElementsOf(ids(fromB, fromA));
      assertThat(receive(b, groupId, log)).containsExactlyElementsOf(plaintexts(fromA));
      assertThat(aStream.failures).as("SSE data the seed client could not use").isEmpty();
    }

    // 6. B adds C with a commit; C joins; A catches up through getCommits(fromEpoch = its epoch + 1).
    EpochChange added = b.addMembers(b.convo(convoId), List.of(c.did()));
    assertThat(added.success()).isTrue();
    assertThat(added.newEpoch()).isEqualTo(2);
    ConvoView atC = c.convo(convoId);
    assertThat(atC.memberDids()).containsExactlyInAnyOrder(a.did(), b.did(), c.did());
    assertThat(c.joinFromWelcome(atC)).isEqualTo(2);
    assertThat(a.localEpoch(groupId)).isEqualTo(1);
    List<CommitMessage> caughtUp = a.syncGroupState(atA);
    assertThat(caughtUp).as("the commit labelled with the epoch it creates").hasSize(1);
    assertThat(caughtUp.get(0).epoch()).isEqualTo(2);
    assertThat(caughtUp.get(0).sender()).isEqualTo(b.did());
    assertThat(a.localEpoch(groupId)).isEqualTo(2);

    Sent fromC = c.send(atC, "carol here");
    Sent fromA2 = a.send(atA, "alice at epoch 2");
    assertThat(receive(b, groupId, readWithClientPaging(b, convoId))).containsExactly("carol here", "alice at epoch 2");
    assertThat(receive(c, groupId, readWithClientPaging(c, convoId))).as("C is shown nothing from before it joined")
        .containsExactly("alice at epoch 2");
    assertThat(fromC.output().messageId()).isNotEqualTo(fromA2.output().messageId());

    // 7. A leaves without a commit: newEpoch = the current epoch, access gone at once, the others asked to remove A.
    try (SeedEventStream bStream = b.streamConvoEvents(convoId); SeedEventStream aStream = a.streamConvoEvents(convoId)) {
      EpochChange left = a.leaveConvo(convoId);
      assertThat(left.success()).isTrue();
      assertThat(left.newEpoch()).as("no MLS change happened").isEqualTo(2).isEqualTo(b.getEpoch(convoId).currentEpoch());
      assertThat(statusOf(() -> a.getMessages(convoId, PAGE, null))).isEqualTo(403);
      assertThat(statusOf(() -> a.getEpoch(convoId))).isEqualTo(403);
      assertThat(statusOf(() -> a.getCommits(convoId, 2, 2))).isEqualTo(403);
      assertThat(statusOf(() -> a.sendMessage(convoId, fromA2.ciphertext(), 2))).isEqualTo(403);
      assertThat(a.allConvos().stream().map(ConvoView::id)).doesNotContain(convoId);
      SeedTypes.StreamEvent ask = bStream.next(SeedTypes.StreamEvent.class,
          e -> !(e instanceof MessageEvent) && e.toString().contains(a.did()), "an event asking to remove " + a.did());
      assertThat(ask.type()).isNotBlank();

      Sent afterLeave = b.send(b.convo(convoId), "bob after alice left");
      bStream.next(MessageEvent.class, e -> e.message().id().equals(afterLeave.output().messageId()), "B's own message");
      assertThat(receive(c, groupId, readWithClientPaging(c, convoId))).containsExactly("bob after alice left");
      assertThat(aStream.seen).as("A's stream after leaving").noneMatch(e -> e instanceof MessageEvent m
          && m.message().id().equals(afterLeave.output().messageId()));
      assertThat(bStream.failures).isEmpty();
      assertThat(aStream.failures).isEmpty();
    }

    // 8. A remaining member commits the Remove of A's leaf (removeMember: this server's method, no seed equivalent);
    //    C catches up through getCommits and messages still flow between B and C.
    JsonNode remove = b.mls.call("remove", "groupId", groupId, "identity", a.did());
    b.user.post("removeMember", Map.of("convoId", convoId, "targetDid", a.did(),
        "commit", Device.bytes(remove.path("commit").asText()))).ok();
    b.mls.call("applyPending", "groupId", groupId);
    Sent last = c.send(atC, "carol at epoch 3");
    assertThat(c.localEpoch(groupId)).isEqualTo(3);
    assertThat(receive(b, groupId, readWithClientPaging(b, convoId))).containsExactly(last.plaintext());
  }

  /**
   * Issue 10, the seed-era client after a group reset: it knows no reset, and needs none of this server's additions.
   * An admin on a current client (ts-mls) created the conversation with the seed client in it (under {@code any},
   * where the seed client's encrypted handshakes are allowed) and resets it to a new group. The seed client's next
   * send, still for the old group, fails with a bare status (409). Like the app, it refreshes its conversations:
   * {@code getConvos} shows a {@code groupId} it has no group for, so it joins it from the Welcome {@code getWelcome}
   * hands it (a base64url string, as ever), and the conversation goes on in the new group, both ways.
   */
  @Test
  void aSeedEraClientFollowsAGroupResetThroughItsWelcome() {
    User ua = user("admin");
    Device admin = device(ua);
    SeedClient s = seed("seed");
    s.publishKeyPackage();
    String g = newGroupId();
    admin.agent.call("createGroup", "groupId", g);
    JsonNode pending = admin.agent.call("addMembers", "groupId", g, "keyPackages", seedKeyPackages(claim(ua, s.user)));
    ua.post("createConvo", Map.of("groupId", g, "cipherSuite", SUITE, "handshakePolicy", "any",
        "initialMembers", List.of(s.did()), "commit", Device.bytes(pending.path("commit").asText()),
        "welcome", Device.bytes(pending.path("welcome").asText()))).ok();
    admin.agent.call("applyPending", "groupId", g);
    ConvoView before = s.convo(g);
    assertThat(s.joinFromWelcome(before)).isEqualTo(1);
    Sent first = s.send(before, "seed before the reset");
    assertThat(admin.texts(g)).containsExactly(first.plaintext());

    // The admin resets the conversation to a new group, re-adding the seed client from a fresh KeyPackage.
    s.publishKeyPackage();
    String g2 = newGroupId();
    admin.agent.call("createGroup", "groupId", g2);
    JsonNode fresh = admin.agent.call("addMembers", "groupId", g2, "keyPackages", seedKeyPackages(claim(ua, s.user)));
    JsonNode reset = ua.post("resetGroup", Map.of("convoId", g, "fromGroupId", g, "fromEpoch", 1, "groupId", g2,
        "didList", List.of(s.did()), "commit", Device.bytes(fresh.path("commit").asText()),
        "welcome", Device.bytes(fresh.path("welcome").asText()))).ok();
    admin.agent.call("applyPending", "groupId", g2);
    admin.resetTo(g, g2, reset.path("resetSeq").asLong());

    // The seed client's send for the old group: a bare 409.
    assertThat(statusOf(() -> s.send(before, "into the old group"))).isEqualTo(409);
    // It refreshes: the conversation (same id) now names a group it does not have; it joins it from its Welcome.
    ConvoView after = s.convo(g);
    assertThat(after.id()).isEqualTo(g);
    assertThat(after.groupId()).isEqualToIgnoringCase(g2);
    assertThat(after.epoch()).isEqualTo(1);
    assertThat(s.joinFromWelcome(after)).isEqualTo(1);
    Sent second = s.send(after, "seed in the new group");
    assertThat(admin.texts(g)).containsExactly(second.plaintext());
    admin.send(g, "admin in the new group");
    List<MessageView> log = readWithClientPaging(s, g);
    List<MessageView> newGroup = log.stream().filter(m -> m.seq() > reset.path("resetSeq").asLong()).toList();
    assertThat(receive(s, g2, newGroup)).containsExactly("admin in the new group");
    // Its history paging still reaches the old group's messages (which it read before the reset).
    assertThat(log.stream().map(MessageView::id)).contains(first.output().messageId());
  }

  /** KeyPackages a seed client published (bare), claimed by another client, as MLSMessages for an agent. */
  private static List<String> seedKeyPackages(JsonNode claimed) {
    List<String> out = new ArrayList<>();
    for (JsonNode k : claimed) {
      out.add(java.util.Base64.getEncoder().encodeToString(
          SeedClient.wrapped(java.util.Base64.getUrlDecoder().decode(k.path("keyPackage").asText()))));
    }
    return out;
  }

  /** Sends texts longer than ts-mls's 256-byte padding until the ciphertext lengths have covered 0, 1 and 2 mod 3. */
  private static List<Sent> sendEveryResidue(SeedClient from, ConvoView convo, String prefix) {
    List<Sent> out = new ArrayList<>();
    Set<Integer> residues = new TreeSet<>();
    for (int n = 0; residues.size() < 3; n++) {
      assertThat(n).as("ciphertext lengths mod 3 seen so far: %s", residues).isLessThan(30);
      String text = prefix + " " + n + " " + "x".repeat(300 + n);
      Sent s = from.send(convo, text);
      out.add(s);
      residues.add(s.ciphertext().length % 3);
    }
    return out;
  }

  /**
   * Reads what {@code reader} has not seen yet, as the 2025 app does. The first time (the history view): the newest
   * page without {@code sinceMessage}, newest first, then {@code sinceMessage} = each {@code cursor} for the page
   * before it, until there is no {@code cursor}. Afterwards: {@code sinceMessage} = the id of the newest message it
   * has read (the 2025 server's "after this message", ascending), following {@code cursor} while one is given.
   * Asserts the order of each mode and that no message is shown twice; returns the messages in log order.
   */
  private List<MessageView> readWithClientPaging(SeedClient reader, String convoId) {
    String since = lastRead.get(reader);
    List<MessageView> out = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    GetMessagesOutput page = reader.getMessages(convoId, PAGE, since);
    long previous = since == null ? Long.MAX_VALUE : -1;
    for (int pages = 1; ; pages++) {
      assertThat(page.messages().size()).isLessThanOrEqualTo(PAGE);
      for (MessageView m : page.messages()) {
        assertThat(ids.add(m.id())).as("%s shown twice", m.id()).isTrue();
        if (since == null) {
          assertThat(m.seq()).as("history view: newest first").isLessThan(previous);
        } else {
          assertThat(m.seq()).as("after sinceMessage: ascending").isGreaterThan(previous);
        }
        previous = m.seq();
        out.add(m);
      }
      if (page.cursor() == null) {
        break;
      }
      assertThat(pages).as("pages").isLessThan(100);
      page = reader.getMessages(convoId, PAGE, page.cursor());
    }
    out.sort((x, y) -> Long.compare(x.seq(), y.seq()));
    if (!out.isEmpty()) {
      lastRead.put(reader, out.get(out.size() - 1).id());
    }
    return out;
  }

  /** Processes, in log order, the messages this client has not processed yet; returns others' plaintexts. */
  private List<String> receive(SeedClient reader, String groupId, List<MessageView> inLogOrder) {
    List<String> texts = new ArrayList<>();
    for (MessageView m : inLogOrder) {
      if (processed.get(reader).add(m.id())) {
        JsonNode r = reader.process(groupId, m.ciphertext());
        if ("application".equals(r.path("kind").asText()) && !r.path("own").asBoolean(false)) {
          texts.add(r.path("plaintext").asText());
        }
      }
    }
    return texts;
  }

  private String decrypt(SeedClient reader, String groupId, MessageView m) {
    assertThat(processed.get(reader).add(m.id())).isTrue();
    JsonNode r = reader.process(groupId, m.ciphertext());
    assertThat(r.path("kind").asText()).isEqualTo("application");
    return r.path("plaintext").asText();
  }

  private static List<String> ids(List<Sent> first, List<Sent> second) {
    List<String> out = new ArrayList<>();
    first.forEach(s -> out.add(s.output().messageId()));
    second.forEach(s -> out.add(s.output().messageId()));
    return out;
  }

  private static List<String> plaintexts(List<Sent> sent) {
    return sent.stream().map(Sent::plaintext).toList();
  }
}
