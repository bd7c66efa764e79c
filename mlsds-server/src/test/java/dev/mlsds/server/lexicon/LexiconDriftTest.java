package dev.mlsds.server.lexicon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.server.xrpc.Json;
import dev.mlsds.server.xrpc.XrpcRouter;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The routes, the output records and the lexicon files describe one API: a method registered without a
 * lexicon, a lexicon without a route, a query served as a procedure, a subscription nobody serves, or an
 * output record whose fields (as Jackson writes them) differ from its lexicon fails here, naming each
 * difference. The responses themselves are checked against the lexicons on every call of the test suite
 * (the hook in {@code testing.Http}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LexiconDriftTest {
  static final String PREFIX = "blue.catbird.mls.";
  final Lexicons lexicons = Lexicons.standard();
  Server server;

  @BeforeAll
  void start() {
    server = TestServers.start(TestDatabases.sqlite());
  }

  @AfterAll
  void stop() {
    if (server != null) {
      server.stop();
    }
  }

  @Test
  void registeredMethodsAndQueryOrProcedureLexiconsAreTheSame() {
    Map<String, XrpcRouter.Method> routes = server.router().methods();
    Set<String> lexiconMethods = new TreeSet<>(lexicons.idsOfType("query"));
    lexiconMethods.addAll(lexicons.idsOfType("procedure"));

    List<String> problems = new ArrayList<>();
    Set<String> notRegistered = new TreeSet<>(lexiconMethods);
    notRegistered.removeAll(routes.keySet());
    if (!notRegistered.isEmpty()) {
      problems.add("lexicon but no route: " + notRegistered);
    }
    for (String nsid : new TreeSet<>(routes.keySet())) {
      String expected = routes.get(nsid).kind() == XrpcRouter.Kind.QUERY ? "query" : "procedure";
      String actual = lexicons.type(nsid).orElse(null);
      if (actual == null) {
        problems.add("route but no lexicon: " + nsid + " (" + expected + ")");
      } else if (!actual.equals(expected)) {
        problems.add(nsid + ": routed as a " + expected + ", lexicon says " + actual);
      }
    }
    assertThat(problems).as("routes and lexicons drifted apart").isEmpty();
  }

  /**
   * Every routed method answers over HTTP, and the router's own refusals conform to each lexicon: no
   * token is a 401 for every method; a {@code senderDid} other than the caller is a 403 {@code Forbidden}
   * for every procedure, so every procedure must declare it (the hook in {@code testing.Http} checks each
   * response; failures are collected per method).
   */
  @Test
  void routerRefusalsConformForEveryMethod() {
    Http http = new Http(server.port());
    TestUser user = TestUser.on(server);
    List<String> problems = new ArrayList<>();
    for (XrpcRouter.Method m : new TreeMap<>(server.router().methods()).values()) {
      if (!lexicons.has(m.nsid())) {
        continue;
      }
      String method = m.nsid().substring(PREFIX.length());
      try {
        Http.Response anonymous = m.kind() == XrpcRouter.Kind.QUERY ? http.get("/xrpc/" + m.nsid(), null)
            : http.post("/xrpc/" + m.nsid(), null, "{}");
        if (anonymous.status() != 401) {
          problems.add(m.nsid() + ": without a token: " + anonymous.status() + " " + anonymous.body());
        }
        if (m.kind() == XrpcRouter.Kind.PROCEDURE) {
          Http.Response other = user.post(method, Map.of("senderDid", "did:plc:someoneelse234567abcdefg"));
          if (other.status() != 403 || !"Forbidden".equals(other.error())) {
            problems.add(m.nsid() + ": with another senderDid: " + other.status() + " " + other.body());
          }
        }
      } catch (AssertionError e) {
        problems.add(e.getMessage());
      }
    }
    assertThat(problems).as("router refusals vs lexicons").isEmpty();
  }

  /** The router makes any procedure with an {@code idempotencyKey} idempotent, so any can answer IdempotencyConflict. */
  @Test
  void everyProcedureDeclaresIdempotencyConflict() {
    LexiconValidator validator = new LexiconValidator(lexicons);
    Set<String> missing = new TreeSet<>();
    for (String nsid : lexicons.idsOfType("procedure")) {
      if (!validator.declaredErrors(nsid).contains("IdempotencyConflict")) {
        missing.add(nsid);
      }
    }
    assertThat(missing).as("procedures not declaring IdempotencyConflict").isEmpty();
  }

  /**
   * Subscriptions are served outside the router: the SSE stream answers a GET (an unauthenticated one is
   * a 401, not a 404) and the WebSocket answers an upgrade.
   */
  @Test
  void everySubscriptionLexiconIsServed() throws Exception {
    Set<String> subscriptions = lexicons.idsOfType("subscription");
    assertThat(subscriptions).isNotEmpty();
    List<String> notServed = new ArrayList<>();
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    for (String nsid : subscriptions) {
      String path = "127.0.0.1:" + server.port() + "/xrpc/" + nsid;
      int get = plainGet(client, URI.create("http://" + path));
      int upgrade = get == 404 ? upgrade(client, URI.create("ws://" + path)) : get;
      if (get == 404 && upgrade == 404) {
        notServed.add(nsid);
      }
    }
    assertThat(notServed).as("subscription lexicons with no SSE or WebSocket endpoint").isEmpty();
  }

  private static int plainGet(HttpClient client, URI uri) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).header("Accept", "text/event-stream").GET().build();
    HttpResponse<InputStream> r = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
    r.body().close();
    return r.statusCode();
  }

  private static int upgrade(HttpClient client, URI uri) throws Exception {
    try {
      WebSocket ws = client.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
          .buildAsync(uri, new WebSocket.Listener() {}).get(10, TimeUnit.SECONDS);
      ws.abort();
      return 101;
    } catch (ExecutionException | CompletionException e) {
      if (e.getCause() instanceof WebSocketHandshakeException h) {
        return h.getResponse().statusCode();
      }
      throw e;
    }
  }

  /** Every method of docs/api.md has a lexicon, and every lexicon (but the shared defs) is a method of docs/api.md. */
  @Test
  void lexiconsAndApiMdNameTheSameMethods() throws IOException {
    Set<String> api = new TreeSet<>();
    Matcher m = Pattern.compile("`(blue\\.catbird\\.mls\\.[A-Za-z]+)`").matcher("");
    for (String line : Files.readAllLines(apiMd())) {
      if (line.startsWith("### ")) {
        m.reset(line);
        while (m.find()) {
          api.add(m.group(1));
        }
      }
    }
    assertThat(api).as("methods found in docs/api.md").hasSizeGreaterThan(15);
    Set<String> methods = new TreeSet<>(lexicons.ids());
    methods.remove(Lexicons.DEFS);
    assertThat(methods).as("lexicon ids vs the methods of docs/api.md").containsExactlyInAnyOrderElementsOf(api);
  }

  /** The API contract, {@code docs/api.md} beside the {@code lexicons/} folder. */
  private static Path apiMd() {
    return Lexicons.directory().getParent().resolve("docs").resolve("api.md");
  }

  /**
   * Every per-method output record ({@code <Method>.Output}, e.g. {@code Conversations.GetEpoch.Output}),
   * filled with a value for every component and written by the server's own mapper, is valid for its
   * method's lexicon and produces every field the lexicon declares: names, types and formats (a DID
   * written as an object, an Instant as a number, a renamed component) are caught without a single request.
   */
  @Test
  void outputRecordsAndTheirLexiconsHaveTheSameFields() throws Exception {
    List<Class<?>> outputs = outputRecords();
    assertThat(outputs).as("Output records under dev.mlsds.server").isNotEmpty();
    List<String> problems = new ArrayList<>();
    for (Class<?> c : outputs) {
      String simple = c.getEnclosingClass().getSimpleName();
      String nsid = PREFIX + Character.toLowerCase(simple.charAt(0)) + simple.substring(1);
      for (String p : recordProblems(c, nsid)) {
        problems.add(c.getName().substring(c.getPackageName().length() + 1) + " vs " + nsid + ": " + p);
      }
    }
    assertThat(problems).as("output records vs lexicons").isEmpty();
  }

  /**
   * The seed-era contract (lexicons/seed-2025-10): every query and procedure it defines is routed with the
   * same kind ({@code streamConvoEvents}, an SSE "query" there, is a subscription here and is checked by the
   * realtime tests), and every output record decodes as a client generated from it decodes: required fields
   * present, {@code string} vs {@code bytes} exact. Every HTTP test checks real responses the same way
   * ({@code testing.Http}).
   */
  @Test
  void seedEraMethodsAreRoutedAndTheirOutputsDecodeAsTheSeedClientDecodes() throws Exception {
    Lexicons seed = Lexicons.seed();
    Map<String, XrpcRouter.Method> routes = server.router().methods();
    List<String> problems = new ArrayList<>();
    Set<String> seedMethods = new TreeSet<>(seed.idsOfType("query"));
    seedMethods.addAll(seed.idsOfType("procedure"));
    seedMethods.remove(PREFIX + "streamConvoEvents");
    assertThat(seedMethods).hasSize(11);
    for (String nsid : seedMethods) {
      XrpcRouter.Method route = routes.get(nsid);
      if (route == null) {
        problems.add("seed method not routed: " + nsid);
      } else if (!seed.type(nsid).orElseThrow().equals(route.kind() == XrpcRouter.Kind.QUERY ? "query" : "procedure")) {
        problems.add(nsid + ": routed as " + route.kind() + ", the seed lexicon says " + seed.type(nsid).orElseThrow());
      }
    }
    int checked = 0;
    for (Class<?> c : outputRecords()) {
      String simple = c.getEnclosingClass().getSimpleName();
      String nsid = PREFIX + Character.toLowerCase(simple.charAt(0)) + simple.substring(1);
      if (!seedMethods.contains(nsid) || !lexicons.has(nsid)) {
        continue;
      }
      JsonNode schema = lexicons.main(nsid).orElseThrow().path("output").get("schema");
      JsonNode json = Json.MAPPER.readTree(Json.write(new Samples().build(c, schema, nsid)));
      LexiconValidator.seedClient().output(nsid, json)
          .forEach(v -> problems.add(c.getName().substring(c.getPackageName().length() + 1) + " vs seed " + nsid + ": " + v));
      checked++;
    }
    assertThat(checked).as("output records of seed methods").isGreaterThanOrEqualTo(9);
    assertThat(problems).as("the seed-era contract").isEmpty();
  }

  /** The record check itself can fail: a renamed component, and a DID written as an object. */
  @Test
  void theRecordCheckCatchesRenamesAndShapes() throws Exception {
    record RenamedEpoch(String convoId, long epoch) {}
    assertThat(recordProblems(RenamedEpoch.class, PREFIX + "getEpoch"))
        .containsExactlyInAnyOrder("$.currentEpoch: required: missing", "$.epoch: undeclared: field not declared in the lexicon");
    record PlainDid(String value) {}
    record Commit(long seq, long epoch, long sentInEpoch, PlainDid sender, byte[] commitData, Instant createdAt) {}
    record Commits(String convoId, List<Commit> commits, boolean hasMore) {}
    assertThat(recordProblems(Commits.class, PREFIX + "getCommits"))
        .singleElement().asString().startsWith("$.commits[0].sender: string: must be a string, got object {\"value\":");
    assertThat(recordProblems(RenamedEpoch.class, PREFIX + "noSuchMethod")).containsExactly("no lexicon " + PREFIX + "noSuchMethod");
  }

  /** Violations of a sample of {@code record} (every component set) against {@code nsid}'s output. */
  private List<String> recordProblems(Class<?> record, String nsid) throws IOException {
    if (!lexicons.has(nsid)) {
      return List.of("no lexicon " + nsid);
    }
    JsonNode schema = lexicons.main(nsid).orElseThrow().path("output").get("schema");
    Object sample;
    try {
      sample = new Samples().build(record, schema, nsid);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return List.of("cannot build a sample: " + e);
    }
    JsonNode json = Json.MAPPER.readTree(Json.write(sample));
    return new LexiconValidator(lexicons).outputComplete(nsid, json).stream().map(Object::toString).toList();
  }

  /** The {@code *$Output} records of the server's main classes. */
  private static List<Class<?>> outputRecords() throws Exception {
    Path root = Path.of(Wiring.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<Class<?>> out = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.filter(f -> f.getFileName().toString().endsWith("$Output.class")).sorted().toList()) {
        String rel = root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
        Class<?> c = Class.forName(rel.substring(0, rel.length() - ".class".length()).replace('/', '.'), false,
            LexiconDriftTest.class.getClassLoader());
        if (c.isRecord() && c.getEnclosingClass() != null) {
          out.add(c);
        }
      }
    }
    return out;
  }

  /** Builds record instances with every component set, each value chosen to satisfy its lexicon property. */
  private final class Samples {
    Object build(Type type, JsonNode schema, String nsid) throws ReflectiveOperationException {
      while (schema != null && schema.path("type").asText().equals("ref")) {
        Lexicons.Def d = lexicons.resolve(nsid, schema.path("ref").asText()).orElseThrow();
        schema = d.schema();
        nsid = d.nsid();
      }
      Class<?> raw = type instanceof ParameterizedType p ? (Class<?>) p.getRawType() : (Class<?>) type;
      if (raw == String.class) {
        return string(schema);
      }
      if (raw == long.class || raw == Long.class || raw == int.class || raw == Integer.class) {
        long v = schema == null ? 1 : schema.has("const") ? schema.get("const").longValue()
            : Math.min(Math.max(schema.path("minimum").asLong(1), 1), schema.path("maximum").asLong(Long.MAX_VALUE));
        return raw == long.class || raw == Long.class ? (Object) v : (Object) (int) v;
      }
      if (raw == boolean.class || raw == Boolean.class) {
        return schema == null || schema.path("const").asBoolean(true);
      }
      if (raw == byte[].class) {
        return new byte[] {1, 2, 3, 4, 5};
      }
      if (raw == Instant.class) {
        return Instant.parse("2026-01-02T03:04:05.678Z");
      }
      if (Collection.class.isAssignableFrom(raw)) {
        Type item = type instanceof ParameterizedType p ? p.getActualTypeArguments()[0] : Object.class;
        Object one = build(item, schema == null ? null : schema.get("items"), nsid);
        return Set.class.isAssignableFrom(raw) ? Set.of(one) : List.of(one);
      }
      if (Map.class.isAssignableFrom(raw)) {
        return Map.of();
      }
      if (raw.isEnum()) {
        return raw.getEnumConstants()[0];
      }
      if (raw.isRecord()) {
        RecordComponent[] components = raw.getRecordComponents();
        // A one-string record (Did, ConvoId, …) is a value: it stands for the string property itself.
        boolean value = components.length == 1 && components[0].getType() == String.class
            && (schema == null || !schema.path("type").asText().equals("object"));
        Object[] args = new Object[components.length];
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
          types[i] = components[i].getType();
          JsonNode prop = value ? schema : schema == null ? null : schema.path("properties").get(components[i].getName());
          args[i] = build(components[i].getGenericType(), prop, nsid);
        }
        Constructor<?> ctor = raw.getDeclaredConstructor(types);
        ctor.setAccessible(true);
        return ctor.newInstance(args);
      }
      throw new IllegalStateException("no sample for " + type.getTypeName());
    }

    private String string(JsonNode schema) {
      if (schema == null) {
        return "0a1b2c3d4e5f";
      }
      if (schema.has("const")) {
        return schema.get("const").asText();
      }
      for (String k : List.of("enum", "knownValues")) {
        if (schema.has(k)) {
          return schema.get(k).get(0).asText();
        }
      }
      switch (schema.path("format").asText()) {
        case "did" -> {
          return "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        }
        case "datetime" -> {
          return "2026-01-02T03:04:05.678Z";
        }
        case "uri" -> {
          return "wss://mlsds.example/xrpc/blue.catbird.mls.subscribeConvoEvents?ticket=t";
        }
        default -> { }
      }
      long max = schema.has("maxLength") ? schema.get("maxLength").asLong() : Long.MAX_VALUE;
      int length = (int) Math.min(Math.max(schema.path("minLength").asLong(0), 12), max);
      return "0a1b2c3d4e5f6789".repeat(length / 16 + 1).substring(0, length);
    }
  }
}
