package dev.mlsds.benchmarks.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mlsds.benchmarks.fuzz.LexiconMethods.Method;
import dev.mlsds.benchmarks.fuzz.World.Convo;
import dev.mlsds.benchmarks.fuzz.World.User;
import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.Sender;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.auth.DevIdentity;
import dev.mlsds.server.auth.KeyType;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Builds one request at a time from the lexicons: a valid-shaped call (real conversation, real member,
 * real MLS objects, a fresh valid token) that is then, most of the time, mutated — in the JSON tree
 * (wrong types, huge and tiny values, bad base64, truncated/mutated/swapped MLS objects, extra and missing
 * fields), in the body bytes (duplicate keys, deep nesting, bad UTF-8, truncation, not JSON), at the HTTP
 * level (verb, content type, query string, path, headers) or in the token.
 */
final class Generator {
  /** One request: the raw bytes on the wire, its method's NSID and the mutation applied (for the report). */
  record Request(String nsid, String mutation, int caller, String convoId, String httpMethod, byte[] bytes,
      boolean closeAfter) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
  private static final int MAX_CONVOS = 400;

  private final LexiconMethods lexicons;
  private final List<Method> methods;
  private final World world;
  private final String hostHeader;
  private final Random r;
  private String lastToken = "x";

  Generator(LexiconMethods lexicons, World world, String host, int port, long seed) {
    this.lexicons = lexicons;
    this.methods = lexicons.methods.stream().filter(m -> !m.kind().equals("subscription")).toList();
    this.world = world;
    this.hostHeader = host + ":" + port;
    this.r = new Random(seed);
  }

  /** Per-request choices shared by the fields of one call (so a commit and its Welcome agree). */
  private final class Ctx {
    final Method method;
    final int caller;
    final User user;
    final Convo convo;
    List<byte[]> addKps;

    Ctx(Method method, int caller, Convo convo) {
      this.method = method;
      this.caller = caller;
      this.user = world.users.get(caller);
      this.convo = convo;
    }

    List<byte[]> addKps() {
      if (addKps == null) {
        addKps = new ArrayList<>();
        byte[] claimed = world.claimedBy(caller);
        if (claimed != null) {
          addKps.add(claimed);
        } else {
          addKps.add(world.users.get(r.nextInt(world.users.size())).keyPackage(false));
        }
      }
      return addKps;
    }
  }

  Request next() {
    Method m = methods.get(r.nextInt(methods.size()));
    int caller = r.nextInt(world.users.size());
    Convo convo = pickConvo(caller);
    Ctx ctx = new Ctx(m, caller, convo);
    boolean procedure = m.kind().equals("procedure");
    ObjectNode data = procedure
        ? (m.input() == null ? F.objectNode() : object(m.nsid(), m.input(), ctx, 0))
        : (m.params() == null ? F.objectNode() : object(m.nsid(), m.params(), ctx, 0));

    String mutation;
    int dice = r.nextInt(100);
    String verb = procedure ? "POST" : "GET";
    String path = "/xrpc/" + m.nsid();
    String contentType = procedure ? "application/json" : null;
    List<String> headers = new ArrayList<>();
    String token = world.users.get(caller).identity.token(world.audience, m.nsid());
    boolean closeAfter = false;
    byte[] body = null;
    String query = "";
    if (dice < 25) {
      mutation = "valid";
    } else if (dice < 60) {
      mutation = "tree:" + mutateTree(data, ctx);
    } else {
      mutation = null;
    }
    if (procedure) {
      body = write(data);
    } else {
      query = query(data);
    }
    if (mutation == null) {
      if (dice < 75) {
        if (procedure) {
          String[] kind = new String[1];
          body = mutateText(body, data, kind);
          mutation = "text:" + kind[0];
        } else {
          String[] kind = new String[1];
          query = mutateQuery(query, ctx, kind);
          mutation = "query:" + kind[0];
        }
      } else if (dice < 90) {
        switch (r.nextInt(7)) {
          case 0 -> {
            String[] verbs = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"};
            verb = verbs[r.nextInt(verbs.length)];
            mutation = "http:verb";
          }
          case 1 -> {
            String[] cts = {"text/plain", "application/json; charset=utf-16", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=zz", "application/jsonx", "", "*/*", "application/JSON",
                "application/json; charset=\"\u00ff\""};
            contentType = r.nextInt(8) == 0 ? null : cts[r.nextInt(cts.length)];
            mutation = "http:content-type";
          }
          case 2 -> {
            String[] kind = new String[1];
            query = mutateQuery(query, ctx, kind);
            mutation = "http:query:" + kind[0];
          }
          case 3 -> {
            String[] paths = {"/xrpc/blue.catbird.mls.nope", path + "/", path.toUpperCase(), "/xrpc/" + "a".repeat(3000),
                "/xrpc/%2e%2e%2fhealth", "/xrpc/blue.catbird.mls.%00", "/xrpc//" + m.nsid(), path + ";x=1",
                "/xrpc/" + m.nsid().replace('.', '/'), "/xrpc/", "/XRPC/" + m.nsid(), path + "%20",
                "/xrpc/blue.catbird.mls.\u00e9", "/xrpc/%C3%28", "/xrpc/%"};
            path = paths[r.nextInt(paths.length)];
            mutation = "http:path";
            closeAfter = true;
          }
          case 4 -> {
            int k = r.nextInt(6);
            switch (k) {
              case 0 -> headers.add("X-Big: " + "a".repeat(1 << (10 + r.nextInt(6))));
              case 1 -> {
                for (int i = 0; i < 50 + r.nextInt(200); i++) {
                  headers.add("X-H" + i + ": " + i);
                }
              }
              case 2 -> headers.add("Expect: 100-continue");
              case 3 -> headers.add("Content-Encoding: gzip");
              case 4 -> headers.add("Accept: application/cbor");
              default -> headers.add("Accept-Encoding: gzip, deflate, br");
            }
            mutation = "http:header:" + k;
            closeAfter = true;
          }
          case 5 -> {
            mutation = "http:chunked";
            closeAfter = true;
          }
          default -> {
            mutation = "http:body-on-" + (procedure ? "procedure-empty" : "query");
            body = procedure ? new byte[0] : write(data);
          }
        }
      } else {
        String[] kind = new String[1];
        token = mutateToken(token, m, caller, kind);
        mutation = "auth:" + kind[0];
      }
    }
    lastToken = token;
    if (token != null) {
      headers.add(0, token.startsWith("\u0000") ? token.substring(1) : "Authorization: Bearer " + token);
    }
    if (contentType != null && body != null) {
      headers.add("Content-Type: " + contentType);
    }
    boolean chunked = "http:chunked".equals(mutation);
    return new Request(m.nsid(), mutation, caller, convo == null ? null : convo.id, verb,
        raw(verb, path + query, headers, body, chunked), closeAfter || verb.equals("HEAD"));
  }

  private Convo pickConvo(int caller) {
    List<Convo> all = world.convos;
    if (all.isEmpty()) {
      return null;
    }
    for (int i = 0; i < 4; i++) {
      Convo c = all.get(r.nextInt(all.size()));
      if (c.members.contains(caller) || r.nextInt(5) == 0) {
        return c;
      }
    }
    return all.get(r.nextInt(all.size()));
  }

  // ---- valid-shaped values from the schemas ----

  private ObjectNode object(String doc, JsonNode schema, Ctx ctx, int depth) {
    ObjectNode o = F.objectNode();
    JsonNode props = schema.path("properties");
    List<String> required = new ArrayList<>();
    schema.path("required").forEach(n -> required.add(n.asText()));
    for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!required.contains(e.getKey()) && r.nextInt(3) != 0) {
        continue;
      }
      JsonNode v = value(doc, e.getValue(), e.getKey(), ctx, depth + 1);
      if (v != null) {
        o.set(e.getKey(), v);
      }
    }
    return o;
  }

  private JsonNode value(String doc, JsonNode s, String name, Ctx ctx, int depth) {
    String type = s.path("type").asText();
    if (depth > 6) {
      return F.nullNode();
    }
    switch (type) {
      case "ref" -> {
        String ref = s.path("ref").asText();
        if (ref.endsWith("#cipherSuite")) {
          return F.textNode(cipherSuite());
        }
        JsonNode target = lexicons.resolve(doc, ref);
        String targetDoc = ref.startsWith("#") ? doc : ref.substring(0, Math.max(0, ref.indexOf('#')));
        return target == null ? F.nullNode() : value(targetDoc.isEmpty() ? doc : targetDoc, target, name, ctx, depth);
      }
      case "union" -> {
        JsonNode refs = s.path("refs");
        if (refs.isEmpty()) {
          return F.objectNode();
        }
        String ref = refs.get(r.nextInt(refs.size())).asText();
        JsonNode target = lexicons.resolve(doc, ref);
        return target == null ? F.objectNode() : value(doc, target, name, ctx, depth);
      }
      case "object", "params" -> {
        return object(doc, s, ctx, depth);
      }
      case "array" -> {
        ArrayNode a = F.arrayNode();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
          a.add(value(doc, s.path("items"), name, ctx, depth + 1));
        }
        return a;
      }
      case "bytes" -> {
        return bytes(mls(name, ctx));
      }
      case "integer" -> {
        return F.numberNode(integer(name, s, ctx));
      }
      case "boolean" -> {
        return F.booleanNode(r.nextBoolean());
      }
      case "cid-link" -> {
        return F.objectNode().put("$link", "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm");
      }
      case "string" -> {
        return F.textNode(string(name, s, ctx));
      }
      default -> {
        return F.nullNode();
      }
    }
  }

  private String cipherSuite() {
    return switch (r.nextInt(6)) {
      case 0 -> "1";
      case 1 -> "0x0001";
      case 2 -> CipherSuite.values()[r.nextInt(CipherSuite.values().length)].name();
      default -> World.SUITE.name();
    };
  }

  private String string(String name, JsonNode s, Ctx ctx) {
    Convo c = ctx.convo;
    switch (name) {
      case "convoId" -> {
        return c == null ? hex(16) : c.id;
      }
      case "groupId" -> {
        return c == null || r.nextInt(3) != 0 ? hex(8 + r.nextInt(24)) : c.id;
      }
      case "targetDid", "senderDid", "didList", "dids", "initialMembers" -> {
        if (name.equals("senderDid") || c == null) {
          return ctx.user.did();
        }
        List<Integer> members = new ArrayList<>(c.members);
        return r.nextBoolean() && !members.isEmpty()
            ? world.users.get(members.get(r.nextInt(members.size()))).did()
            : world.users.get(r.nextInt(world.users.size())).did();
      }
      case "cipherSuite" -> {
        return cipherSuite();
      }
      case "deviceId" -> {
        return ctx.user.deviceId;
      }
      case "keyPackageRefs" -> {
        List<String> refs = ctx.user.refs;
        return refs.isEmpty() ? hex(32) : refs.get(r.nextInt(refs.size()));
      }
      case "idempotencyKey" -> {
        return "k" + r.nextInt(2000);
      }
      case "msgId" -> {
        return "m" + r.nextInt(50_000);
      }
      case "expires" -> {
        return Instant.now().plusSeconds(r.nextInt(100_000) - 1000).toString();
      }
      case "commit" -> {
        return B64.encodeToString(mls("commit", ctx));
      }
      case "welcomeMessage" -> {
        return B64.encodeToString(mls("welcome", ctx));
      }
      case "handshakePolicy" -> {
        return r.nextBoolean() ? "public" : "any";
      }
      case "cursor" -> {
        return r.nextBoolean() ? Long.toString(r.nextInt(1000)) : hex(8);
      }
      case "sinceMessage" -> {
        return hex(16);
      }
      default -> {
        JsonNode known = s.path("knownValues");
        if (!known.isEmpty() && r.nextBoolean()) {
          return known.get(r.nextInt(known.size())).asText();
        }
        int max = s.path("maxLength").asInt(40);
        return "t".repeat(1 + r.nextInt(Math.max(1, Math.min(max, 40))));
      }
    }
  }

  private long integer(String name, JsonNode s, Ctx ctx) {
    Convo c = ctx.convo;
    long epoch = c == null ? 0 : c.epoch.get();
    return switch (name) {
      case "epoch", "fromEpoch" -> Math.max(0, epoch + r.nextInt(3) - 1);
      case "toEpoch" -> epoch + r.nextInt(2);
      case "seq", "sinceSeq" -> c == null ? r.nextInt(10) : r.nextLong(c.latestSeq.get() + 2);
      case "limit" -> 1 + r.nextInt(100);
      default -> s.has("minimum") ? s.get("minimum").asLong() + r.nextInt(10) : r.nextInt(100);
    };
  }

  /** A real MLS object of the kind the field carries, for the request's conversation and caller. */
  private byte[] mls(String name, Ctx ctx) {
    Convo c = ctx.convo;
    byte[] g = c == null ? new byte[16] : c.groupId;
    long epoch = c == null ? 0 : Math.max(0, c.epoch.get() + (r.nextInt(8) == 0 ? r.nextInt(3) - 1 : 0));
    String method = ctx.method.name();
    switch (name) {
      case "keyPackage" -> {
        return ctx.user.keyPackage(r.nextInt(8) == 0);
      }
      case "welcome" -> {
        return TestMessages.welcome(World.SUITE, ctx.addKps().stream().map(k -> KeyPackage.decode(k).ref()).toList());
      }
      case "groupInfo" -> {
        return TestMessages.groupInfo(World.SUITE, g, epoch + (method.equals("updateGroupInfo") ? 0 : 1), true);
      }
      case "commit" -> {
        return switch (method) {
          case "processExternalCommit" -> TestMessages.externalCommit(g, epoch, ctx.user.did(), List.of());
          case "removeMember", "leaveConvo" -> TestMessages.commit(g, epoch, 0, List.of(), List.of(1L + r.nextInt(3)),
              r.nextBoolean());
          case "addMembers", "createConvo" -> TestMessages.commit(g, epoch, 0, ctx.addKps(), List.of(), r.nextBoolean());
          default -> TestMessages.commit(g, epoch, 0, List.of(), List.of(), true);
        };
      }
      default -> {
        return switch (r.nextInt(10)) {
          case 0 -> TestMessages.privateMessage(g, epoch, ContentType.PROPOSAL);
          case 1 -> TestMessages.privateMessage(g, epoch, ContentType.COMMIT);
          case 2 -> TestMessages.commit(g, epoch, r.nextInt(3), List.of(), List.of(), true);
          case 3 -> TestMessages.removeProposal(g, epoch, new Sender(Sender.Type.MEMBER, 0), 1 + r.nextInt(3));
          case 4 -> TestMessages.applicationPublicMessage(g, epoch, 0);
          default -> TestMessages.privateMessage(g, epoch, ContentType.APPLICATION);
        };
      }
    }
  }

  private byte[] anyMls(Ctx ctx) {
    String[] kinds = {"keyPackage", "welcome", "groupInfo", "commit", "ciphertext"};
    return mls(kinds[r.nextInt(kinds.length)], ctx);
  }

  private static ObjectNode bytes(byte[] b) {
    return F.objectNode().put("$bytes", B64.encodeToString(b));
  }

  // ---- tree mutations ----

  /** A spot in the tree: a parent object (field name) or array (index). */
  private record Spot(JsonNode parent, String field, int index) {
    JsonNode get() {
      return field != null ? parent.get(field) : parent.get(index);
    }

    void set(JsonNode v) {
      if (field != null) {
        ((ObjectNode) parent).set(field, v);
      } else {
        ((ArrayNode) parent).set(index, v);
      }
    }
  }

  private void spots(JsonNode n, List<Spot> out) {
    if (n.isObject()) {
      for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        out.add(new Spot(n, f, -1));
        spots(n.get(f), out);
      }
    } else if (n.isArray()) {
      for (int i = 0; i < n.size(); i++) {
        out.add(new Spot(n, null, i));
        spots(n.get(i), out);
      }
    }
  }

  private String mutateTree(ObjectNode root, Ctx ctx) {
    List<Spot> spots = new ArrayList<>();
    spots(root, spots);
    int kind = r.nextInt(10);
    if (spots.isEmpty() || kind == 8) {
      root.set(r.nextBoolean() ? "zzz" : "convoId" + r.nextInt(3), wrongType(F.textNode("x")));
      return "extra-field";
    }
    Spot s = spots.get(r.nextInt(spots.size()));
    JsonNode v = s.get();
    switch (kind) {
      case 0 -> {
        s.set(wrongType(v));
        return "wrong-type";
      }
      case 1 -> {
        s.set(huge(v));
        return "huge";
      }
      case 2 -> {
        JsonNode[] tiny = {F.textNode(""), F.numberNode(0), F.numberNode(-1), F.arrayNode(), F.objectNode(), F.nullNode(),
            F.textNode(" ")};
        s.set(tiny[r.nextInt(tiny.length)]);
        return "tiny";
      }
      case 3 -> {
        s.set(badBase64());
        return "bad-base64";
      }
      case 4, 5 -> {
        byte[] b = bytesOf(v);
        if (b == null) {
          b = anyMls(ctx);
        }
        s.set(bytes(kind == 4 ? truncate(b) : corrupt(b)));
        return kind == 4 ? "mls-truncated" : "mls-mutated";
      }
      case 6 -> {
        s.set(bytes(anyMls(ctx)));
        return "mls-swapped";
      }
      case 7 -> {
        s.set(F.textNode(weirdString(ctx)));
        return "weird-string";
      }
      default -> {
        if (s.field() != null) {
          ((ObjectNode) s.parent()).remove(s.field());
        } else {
          ((ArrayNode) s.parent()).remove(s.index());
        }
        return "missing-field";
      }
    }
  }

  private JsonNode wrongType(JsonNode v) {
    JsonNode[] options = {F.numberNode(7), F.textNode("7"), F.booleanNode(true), F.nullNode(), F.arrayNode().add(v.deepCopy()),
        F.objectNode().set("x", v.deepCopy()), F.numberNode(1.5), F.objectNode().put("$bytes", "AAAA"),
        F.numberNode(new BigInteger("123456789012345678901234567890"))};
    for (int i = 0; i < 10; i++) {
      JsonNode o = options[r.nextInt(options.length)];
      if (o.getNodeType() != v.getNodeType()) {
        return o;
      }
    }
    return F.nullNode();
  }

  private JsonNode huge(JsonNode v) {
    return switch (r.nextInt(7)) {
      case 0 -> F.textNode("a".repeat(1 << (8 + r.nextInt(11))));
      case 1 -> F.numberNode(r.nextBoolean() ? Long.MAX_VALUE : Long.MIN_VALUE);
      case 2 -> F.numberNode(BigInteger.TWO.pow(64 + r.nextInt(200)));
      case 3 -> F.numberNode(r.nextBoolean() ? 1e308 : -1e-308);
      case 4 -> {
        ArrayNode a = F.arrayNode();
        int n = 1 << (4 + r.nextInt(9));
        for (int i = 0; i < n; i++) {
          a.add(v.deepCopy());
        }
        yield a;
      }
      case 5 -> F.numberNode(Integer.MAX_VALUE + 1L);
      default -> F.objectNode().put("$bytes", B64.encodeToString(new byte[1 << (10 + r.nextInt(10))]));
    };
  }

  private JsonNode badBase64() {
    return switch (r.nextInt(11)) {
      case 0 -> F.objectNode().put("$bytes", "!!!!");
      case 1 -> F.objectNode().put("$bytes", "AAA==" + "=");
      case 2 -> F.objectNode().put("$bytes", 123);
      case 3 -> F.objectNode().put("$bytes", "A");
      case 4 -> F.objectNode().put("$bytes", "");
      case 5 -> F.objectNode().put("$bytes", "AB-_cd");
      case 6 -> F.objectNode().put("$bytes", "AAAA").put("extra", 1);
      case 7 -> F.textNode("AA AA\nAA");
      case 8 -> F.objectNode().put("$link", "bafy");
      case 9 -> F.objectNode().putNull("$bytes");
      default -> F.objectNode().put("$bytes", "=AAA");
    };
  }

  private static byte[] bytesOf(JsonNode v) {
    try {
      if (v != null && v.isObject() && v.path("$bytes").isTextual()) {
        return Base64.getDecoder().decode(v.get("$bytes").asText());
      }
    } catch (IllegalArgumentException e) {
      return null;
    }
    return null;
  }

  private byte[] truncate(byte[] b) {
    return java.util.Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length));
  }

  private byte[] corrupt(byte[] b) {
    byte[] out = b.clone();
    if (out.length == 0) {
      return new byte[] {(byte) r.nextInt(256)};
    }
    switch (r.nextInt(5)) {
      case 0 -> {
        for (int i = 0; i < 1 + r.nextInt(8); i++) {
          out[r.nextInt(out.length)] ^= (byte) (1 << r.nextInt(8));
        }
      }
      case 1 -> {
        int at = r.nextInt(out.length);
        for (int i = at; i < Math.min(out.length, at + 4); i++) {
          out[i] = (byte) 0xFF;
        }
      }
      case 2 -> {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        int at = r.nextInt(out.length);
        o.write(out, 0, at);
        byte[] junk = new byte[1 + r.nextInt(64)];
        r.nextBytes(junk);
        o.writeBytes(junk);
        o.write(out, at, out.length - at);
        return o.toByteArray();
      }
      case 3 -> {
        out[r.nextInt(out.length)] = 0;
        out[r.nextInt(out.length)] = (byte) 0x40;
      }
      default -> {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(out);
        o.writeBytes(out);
        return o.toByteArray();
      }
    }
    return out;
  }

  private String weirdString(Ctx ctx) {
    String id = ctx.convo == null ? "00" : ctx.convo.id;
    String[] w = {"\u0000", "\u202e\u0645\u0631\u062d\u0628\u0627", "\ud83d\ude00".repeat(50), "../../etc/passwd", "%00",
        "' OR 1=1 --", "\"; DROP TABLE convos; --", id.toUpperCase(), id + "0", id.substring(1), "0x" + id,
        "did:plc:", "did:key:zzz", "did:web:" + "a".repeat(300), "did:plc:" + "a".repeat(5000), " " + id, id + "\n",
        "\u00ff\u00fe", "NaN", "-1", "1e999", "true", "null", "\\u0000", "\ufeff" + id, "\ud800x"};
    return w[r.nextInt(w.length)];
  }

  // ---- text mutations of the body ----

  private byte[] mutateText(byte[] body, ObjectNode data, String[] kind) {
    String text = new String(body, StandardCharsets.UTF_8);
    switch (r.nextInt(10)) {
      case 0 -> {
        kind[0] = "duplicate-keys";
        Iterator<String> names = data.fieldNames();
        String key = names.hasNext() ? names.next() : "convoId";
        String dup = "\"" + key + "\":" + (r.nextBoolean() ? "\"" + hex(16) + "\"" : "123") + ",";
        return r.nextBoolean() ? ("{" + dup + text.substring(1)).getBytes(StandardCharsets.UTF_8)
            : (text.substring(0, text.length() - 1) + (data.isEmpty() ? "" : ",") + dup.substring(0, dup.length() - 1)
                + "}").getBytes(StandardCharsets.UTF_8);
      }
      case 1 -> {
        kind[0] = "deep-nesting";
        int depth = 10 * (1 << r.nextInt(15));
        StringBuilder s = new StringBuilder("{\"convoId\":");
        boolean arrays = r.nextBoolean();
        for (int i = 0; i < depth; i++) {
          s.append(arrays ? "[" : "{\"a\":");
        }
        s.append("1");
        for (int i = 0; i < depth; i++) {
          s.append(arrays ? "]" : "}");
        }
        return s.append("}").toString().getBytes(StandardCharsets.UTF_8);
      }
      case 2 -> {
        kind[0] = "bad-utf8";
        byte[][] bad = {{(byte) 0xC3, 0x28}, {(byte) 0xFF}, {(byte) 0xC0, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
            {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xE2, (byte) 0x82}};
        int quote = text.indexOf('"', 1 + r.nextInt(Math.max(1, text.length() - 1)));
        int at = quote < 0 ? body.length / 2 : quote + 1;
        at = Math.min(at, body.length);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(body, 0, at);
        o.writeBytes(bad[r.nextInt(bad.length)]);
        o.write(body, at, body.length - at);
        return o.toByteArray();
      }
      case 3 -> {
        kind[0] = "truncated";
        return java.util.Arrays.copyOf(body, body.length == 0 ? 0 : r.nextInt(body.length));
      }
      case 4 -> {
        kind[0] = "not-json";
        String[] s = {"", "null", "[]", "\"x\"", "1", "convoId=abc&x=1", "<xml/>", "{", "}", "{\"a\":}", "{'a':1}",
            "{\"a\":1}{\"b\":2}", "\u0000", "[" + text + "]"};
        if (r.nextInt(4) == 0) {
          byte[] junk = new byte[r.nextInt(2000)];
          r.nextBytes(junk);
          return junk;
        }
        return s[r.nextInt(s.length)].getBytes(StandardCharsets.UTF_8);
      }
      case 5 -> {
        kind[0] = "numbers";
        String[] n = {"1e999999", "-0", "0x10", "NaN", "Infinity", "01", "1.0e-999999", "99999999999999999999999999",
            "+1", ".5"};
        return text.replaceFirst("(:)(\\d+|\"[^\"]*\")", "$1" + n[r.nextInt(n.length)]).getBytes(StandardCharsets.UTF_8);
      }
      case 6 -> {
        kind[0] = "bom-or-utf16";
        return r.nextBoolean() ? ("\ufeff" + text).getBytes(StandardCharsets.UTF_8) : text.getBytes(StandardCharsets.UTF_16);
      }
      case 7 -> {
        kind[0] = "whitespace";
        return (" ".repeat(1 << (4 + r.nextInt(14))) + text).getBytes(StandardCharsets.UTF_8);
      }
      case 8 -> {
        kind[0] = "comments-and-trailing-commas";
        return text.replace("}", ",}").replaceFirst("\\{", "{/*c*/").getBytes(StandardCharsets.UTF_8);
      }
      default -> {
        kind[0] = "escapes";
        return text.replaceFirst("\":\"", "\":\"\\ud800\\u0000\\uZZZZ").getBytes(StandardCharsets.UTF_8);
      }
    }
  }

  // ---- query strings ----

  private String query(ObjectNode params) {
    StringBuilder q = new StringBuilder();
    for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      List<JsonNode> values = new ArrayList<>();
      if (e.getValue().isArray()) {
        e.getValue().forEach(values::add);
      } else {
        values.add(e.getValue());
      }
      for (JsonNode v : values) {
        q.append(q.isEmpty() ? '?' : '&').append(enc(e.getKey())).append('=')
            .append(enc(v.isValueNode() ? v.asText() : v.toString()));
      }
    }
    return q.toString();
  }

  private String mutateQuery(String q, Ctx ctx, String[] kind) {
    String sep = q.isEmpty() ? "?" : "&";
    String id = ctx.convo == null ? hex(16) : ctx.convo.id;
    String[][] options = {
        {"duplicate", sep + "convoId=" + hex(16) + "&convoId=" + id},
        {"unknown", sep + "zzz=1&__proto__=x"},
        {"bad-percent", sep + "convoId=%zz"},
        {"nul", sep + "convoId=%00" + id},
        {"bad-utf8", sep + "convoId=%C3%28&cursor=%FF%FE"},
        {"empty-name", sep + "=x&&&=&"},
        {"equals", sep + "convoId=a=b=c"},
        {"huge", sep + "cursor=" + "a".repeat(1 << (8 + r.nextInt(8)))},
        {"limit", sep + "limit=" + new String[] {"1e9", "-5", "0x10", "0", "99999999999999999999", "", "1.5", "NaN"}[r.nextInt(8)]},
        {"since", sep + "sinceSeq=" + new String[] {"-1", "9223372036854775808", "abc", "", "1e3"}[r.nextInt(5)]},
        {"epoch", sep + "fromEpoch=" + new String[] {"-1", "9223372036854775807", "x", "1.0"}[r.nextInt(4)]
            + "&toEpoch=" + new String[] {"-1", "0", "9223372036854775807"}[r.nextInt(3)]},
        {"plus-space", sep + "convoId=+" + id + "+"},
        {"many", sep + "dids=did:key:z&".repeat(200 + r.nextInt(800))},
        {"raw-unicode", sep + "convoId=\u00e9\u00e8"},
        {"fragment", sep + "convoId=" + id + "#frag"},
        {"no-value", sep + "convoId"},
    };
    String[] o = options[r.nextInt(options.length)];
    kind[0] = o[0];
    return q + o[1];
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  // ---- tokens ----

  private String mutateToken(String token, Method m, int caller, String[] kind) {
    DevIdentity id = world.users.get(caller).identity;
    Instant now = Instant.now();
    switch (r.nextInt(12)) {
      case 0 -> {
        kind[0] = "none";
        return null;
      }
      case 1 -> {
        kind[0] = "garbage";
        return new String[] {"garbage", "a.b.c", "", "..", "eyJ.eyJ.sig", "x".repeat(20_000)}[r.nextInt(6)];
      }
      case 2 -> {
        kind[0] = "other-method";
        return id.token(world.audience, m.nsid().equals(World.NS + "getConvos") ? World.NS + "getEpoch" : World.NS + "getConvos");
      }
      case 3 -> {
        kind[0] = "wrong-audience";
        return id.token("did:web:elsewhere.example", m.nsid());
      }
      case 4 -> {
        kind[0] = "expired";
        return id.token(world.audience, m.nsid(), now.minusSeconds(3600));
      }
      case 5 -> {
        kind[0] = "too-long-lived";
        Map<String, Object> c = id.claims(world.audience, m.nsid(), now);
        c.put("exp", now.getEpochSecond() + 86_400 * 365);
        return id.sign(c);
      }
      case 6 -> {
        kind[0] = "stranger";
        return DevIdentity.generate(KeyType.P256).token(world.audience, m.nsid());
      }
      case 7 -> {
        kind[0] = "replayed";
        return lastToken == null ? token : lastToken;
      }
      case 8 -> {
        kind[0] = "alg-none";
        Map<String, Object> header = new java.util.LinkedHashMap<>();
        header.put("alg", "none");
        header.put("typ", "JWT");
        String t = id.sign(header, id.claims(world.audience, m.nsid(), now));
        return t.substring(0, t.lastIndexOf('.') + 1);
      }
      case 9 -> {
        kind[0] = "tampered";
        char[] c = token.toCharArray();
        int i = c.length - 1 - r.nextInt(Math.min(40, c.length - 1));
        c[i] = c[i] == 'A' ? 'B' : 'A';
        return new String(c);
      }
      case 10 -> {
        kind[0] = "scheme";
        return "\u0000Authorization: " + new String[] {"Basic dXNlcjpwYXNz", "Bearer", "bearer " + token, "Bearer  " + token,
            "DPoP " + token}[r.nextInt(5)];
      }
      default -> {
        kind[0] = "two-headers";
        return "\u0000Authorization: Bearer " + token + "\r\nAuthorization: Bearer " + lastToken;
      }
    }
  }

  // ---- wire ----

  private byte[] raw(String verb, String target, List<String> headers, byte[] body, boolean chunked) {
    ByteArrayOutputStream o = new ByteArrayOutputStream(256 + (body == null ? 0 : body.length));
    o.writeBytes((verb + " " + target + " HTTP/1.1\r\nHost: " + hostHeader + "\r\n").getBytes(StandardCharsets.UTF_8));
    for (String h : headers) {
      o.writeBytes((h + "\r\n").getBytes(StandardCharsets.UTF_8));
    }
    if (body != null && chunked) {
      o.writeBytes("Transfer-Encoding: chunked\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      int at = 0;
      while (at < body.length) {
        int n = Math.min(body.length - at, 1 + r.nextInt(64));
        o.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        o.write(body, at, n);
        o.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
        at += n;
      }
      o.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      return o.toByteArray();
    }
    if (body != null) {
      o.writeBytes(("Content-Length: " + body.length + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    }
    o.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
    if (body != null) {
      o.writeBytes(body);
    }
    return o.toByteArray();
  }

  private static byte[] write(JsonNode n) {
    try {
      return JSON.writeValueAsBytes(n);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private String hex(int bytes) {
    byte[] b = new byte[bytes];
    r.nextBytes(b);
    return java.util.HexFormat.of().formatHex(b);
  }

  int maxConvos() {
    return MAX_CONVOS;
  }
}
