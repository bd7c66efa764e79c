package dev.mlsds.server.lexicon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.lexicon.LexiconValidator.Violation;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each lint and validation rule, accepted and rejected, on small lexicons written for the purpose. */
class LexiconValidatorTest {
  static final String DEFS = """
      {"lexicon": 1, "id": "test.lex.defs", "defs": {
        "item": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
        "a": {"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}},
        "b": {"type": "object", "properties": {"y": {"type": "integer"}}}
      }}""";

  static final String THING = """
      {"lexicon": 1, "id": "test.lex.thing", "defs": {
        "main": {"type": "query", "output": {"encoding": "application/json", "schema": {
          "type": "object", "required": ["s"], "nullable": ["maybe"], "properties": {
            "s": {"type": "string"},
            "short": {"type": "string", "minLength": 2, "maxLength": 4},
            "name": {"type": "string", "maxGraphemes": 3},
            "role": {"type": "string", "knownValues": ["admin", "member"]},
            "closed": {"type": "string", "enum": ["on", "off"]},
            "fixed": {"type": "string", "const": "yes"},
            "did": {"type": "string", "format": "did"},
            "at": {"type": "string", "format": "datetime"},
            "uri": {"type": "string", "format": "uri"},
            "n": {"type": "integer", "minimum": 0, "maximum": 10},
            "one": {"type": "integer", "const": 1},
            "flag": {"type": "boolean"},
            "truth": {"type": "boolean", "const": true},
            "data": {"type": "bytes", "maxLength": 3},
            "list": {"type": "array", "items": {"type": "string"}, "minLength": 1, "maxLength": 2},
            "local": {"type": "ref", "ref": "#local"},
            "remote": {"type": "ref", "ref": "test.lex.defs#item"},
            "either": {"type": "union", "refs": ["test.lex.defs#a", "test.lex.defs#b"]},
            "any": {"type": "unknown"},
            "maybe": {"type": "string"}
          }}},
          "errors": [{"name": "StaleEpoch"}, {"name": "NotMember"}]
        },
        "local": {"type": "object", "properties": {"z": {"type": "boolean"}}},
        "staleEpochError": {"type": "object", "required": ["error", "message", "currentEpoch"], "properties": {
          "error": {"type": "string"}, "message": {"type": "string"}, "currentEpoch": {"type": "integer"}}}
      }}""";

  static final String STREAM = """
      {"lexicon": 1, "id": "test.lex.stream", "defs": {
        "main": {"type": "subscription", "message": {"schema": {"type": "union", "refs": ["#tick", "test.lex.defs#b"]}}},
        "tick": {"type": "object", "required": ["cursor", "n"], "properties": {
          "cursor": {"type": "string"}, "n": {"type": "integer"}}}
      }}""";

  static final String EMPTY = """
      {"lexicon": 1, "id": "test.lex.empty", "defs": {"main": {"type": "procedure"}}}""";

  final LexiconValidator v = new LexiconValidator(Lexicons.of(DEFS, THING, STREAM, EMPTY));

  static JsonNode json(String s) {
    try {
      return Json.MAPPER.readTree(s);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  List<Violation> out(String fields) {
    return v.output("test.lex.thing", json("{\"s\": \"x\"" + (fields.isEmpty() ? "" : ", " + fields) + "}"));
  }

  void accepts(String fields) {
    assertThat(out(fields)).as(fields).isEmpty();
  }

  void rejects(String fields, String path, String rule) {
    assertThat(out(fields)).as(fields).extracting(Violation::path, Violation::rule)
        .contains(org.assertj.core.groups.Tuple.tuple(path, rule));
  }

  // ---- lint

  @Test
  void theRepositoryLexiconsLintClean() {
    Lexicons l = Lexicons.standard();
    assertThat(l.ids()).contains(Lexicons.DEFS, "blue.catbird.mls.sendMessage", "blue.catbird.mls.streamConvoEvents");
  }

  @Test
  void lintNamesEveryProblem() {
    String bad = """
        {"lexicon": 2, "id": "test.lex.bad", "defs": {
          "main": {"type": "query", "output": {"encoding": "application/json", "schema": {
            "type": "object", "requried": ["a"], "required": ["b"], "properties": {
              "a": {"type": "string", "format": "handle"},
              "c": {"type": "ref", "ref": "#nowhere"},
              "d": {"type": "integer", "minimum": 5, "maximum": 1},
              "e": {"type": "blob"}
            }}},
            "errors": [{"name": "X"}, {"name": "X"}]},
          "other": {"type": "procedure"}
        }}""";
    assertThatThrownBy(() -> Lexicons.of(bad)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("test.lex.bad lexicon: must be 1")
        .hasMessageContaining("requried: unknown key")
        .hasMessageContaining("required: names an undeclared property: b")
        .hasMessageContaining("properties.a.format: not checked by LexiconValidator: handle")
        .hasMessageContaining("properties.c.ref: does not resolve: #nowhere")
        .hasMessageContaining("properties.d: minimum > maximum")
        .hasMessageContaining("properties.e: unknown or misplaced type 'blob'")
        .hasMessageContaining("errors[1].name: declared twice: X")
        .hasMessageContaining("defs.other: a procedure must be the main def");
  }

  @Test
  void lintRequiresSubscriptionMessagesToBeUnions() {
    String bad = """
        {"lexicon": 1, "id": "test.lex.sub", "defs": {"main": {"type": "subscription",
          "message": {"schema": {"type": "object", "properties": {}}}}}}""";
    assertThatThrownBy(() -> Lexicons.of(bad)).hasMessageContaining("message.schema: must be a union");
  }

  @Test
  void loadRequiresTheIdToMatchThePath(@TempDir Path dir) throws IOException {
    Files.createDirectories(dir.resolve("test/lex"));
    Files.writeString(dir.resolve("test/lex/empty.json"), EMPTY);
    assertThat(Lexicons.load(dir).ids()).containsExactly("test.lex.empty");
    Files.writeString(dir.resolve("test/lex/other.json"), EMPTY);
    assertThatThrownBy(() -> Lexicons.load(dir))
        .hasMessageContaining("test/lex/other.json: id must be 'test.lex.other' (the file's path), is 'test.lex.empty'");
  }

  // ---- objects

  @Test
  void objectRules() {
    accepts("");
    assertThat(v.output("test.lex.thing", json("{}"))).extracting(Violation::toString).containsExactly("$.s: required: missing");
    rejects("\"extra\": 1", "$.extra", "undeclared");
    rejects("\"flag\": null", "$.flag", "null");
    accepts("\"maybe\": null");
    assertThat(v.output("test.lex.thing", json("[1]"))).extracting(Violation::rule).containsExactly("object");
    rejects("\"$type\": \"test.lex.thing\"", "$.$type", "undeclared");
  }

  @Test
  void completeOutputsMustCarryEveryDeclaredField() {
    assertThat(v.outputComplete("test.lex.thing", json("{\"s\": \"x\"}"))).extracting(Violation::path, Violation::rule)
        .contains(org.assertj.core.groups.Tuple.tuple("$.short", "complete"), org.assertj.core.groups.Tuple.tuple("$.maybe", "complete"))
        .doesNotContain(org.assertj.core.groups.Tuple.tuple("$.s", "complete"));
    assertThat(v.outputComplete("test.lex.thing", json("{}"))).extracting(Violation::path, Violation::rule)
        .contains(org.assertj.core.groups.Tuple.tuple("$.s", "required"))
        .doesNotContain(org.assertj.core.groups.Tuple.tuple("$.s", "complete"));
  }

  @Test
  void outputOfAMethodWithoutOutputSchemaMustBeEmpty() {
    assertThat(v.output("test.lex.empty", json("{}"))).isEmpty();
    assertThat(v.output("test.lex.empty", json("{\"a\": 1}"))).extracting(Violation::rule).containsExactly("output");
  }

  @Test
  void unknownMethodsAndSubscriptionsHaveNoOutput() {
    assertThat(v.output("test.lex.nothing", json("{}"))).extracting(Violation::rule).containsExactly("lexicon");
    assertThat(v.output("test.lex.stream", json("{}"))).extracting(Violation::rule).containsExactly("lexicon");
  }

  // ---- strings

  @Test
  void stringRules() {
    accepts("\"short\": \"ab\", \"role\": \"member\", \"closed\": \"off\", \"fixed\": \"yes\"");
    rejects("\"short\": 12", "$.short", "string");
    rejects("\"short\": \"a\"", "$.short", "minLength");
    rejects("\"short\": \"abcde\"", "$.short", "maxLength");
    rejects("\"short\": \"ééé\"", "$.short", "maxLength"); // 6 UTF-8 bytes: atproto lengths are bytes
    rejects("\"role\": \"owner\"", "$.role", "knownValues");
    rejects("\"closed\": \"maybe\"", "$.closed", "enum");
    rejects("\"fixed\": \"no\"", "$.fixed", "const");
  }

  @Test
  void graphemesCountUserPerceivedCharacters() {
    accepts("\"name\": \"e\u0301e\u0301e\u0301\""); // three é written as e + combining accent
    accepts("\"name\": \"\uD83D\uDC4D\uD83C\uDFFD\uD83D\uDC4D\""); // 👍🏽👍: two graphemes
    rejects("\"name\": \"abcd\"", "$.name", "maxGraphemes");
  }

  @Test
  void formatDid() {
    accepts("\"did\": \"did:plc:abc234\"");
    accepts("\"did\": \"did:web:example.com\"");
    rejects("\"did\": \"plc:abc\"", "$.did", "format did");
    rejects("\"did\": \"did:plc:abc#atproto\"", "$.did", "format did");
    rejects("\"did\": {\"value\": \"did:plc:abc\"}", "$.did", "string");
  }

  @Test
  void formatDatetimeIsRfc3339UtcWithMilliseconds() {
    accepts("\"at\": \"2026-01-02T03:04:05.678Z\"");
    rejects("\"at\": \"2026-01-02T03:04:05Z\"", "$.at", "format datetime");
    rejects("\"at\": \"2026-01-02T03:04:05.678+01:00\"", "$.at", "format datetime");
    rejects("\"at\": \"2026-13-02T03:04:05.678Z\"", "$.at", "format datetime");
    rejects("\"at\": \"2026-01-02T03:04:05.678912Z\"", "$.at", "format datetime");
    rejects("\"at\": 1767322800", "$.at", "string");
  }

  @Test
  void formatUri() {
    accepts("\"uri\": \"wss://mlsds.example/xrpc/blue.catbird.mls.subscribeConvoEvents?ticket=abc\"");
    rejects("\"uri\": \"/xrpc/blue.catbird.mls.subscribeConvoEvents\"", "$.uri", "format uri");
    rejects("\"uri\": \"https://a b\"", "$.uri", "format uri");
  }

  // ---- numbers and booleans

  @Test
  void integerRules() {
    accepts("\"n\": 0, \"one\": 1");
    accepts("\"n\": 10");
    rejects("\"n\": -1", "$.n", "minimum");
    rejects("\"n\": 11", "$.n", "maximum");
    rejects("\"n\": \"3\"", "$.n", "integer");
    rejects("\"n\": 1.5", "$.n", "integer");
    rejects("\"n\": 100000000000000000000", "$.n", "integer");
    rejects("\"one\": 2", "$.one", "const");
  }

  @Test
  void booleanRules() {
    accepts("\"flag\": false, \"truth\": true");
    rejects("\"flag\": \"true\"", "$.flag", "boolean");
    rejects("\"flag\": 1", "$.flag", "boolean");
    rejects("\"truth\": false", "$.truth", "const");
  }

  // ---- bytes

  @Test
  void bytesMustBeDollarBytesWithPaddedStandardBase64() {
    accepts("\"data\": {\"$bytes\": \"AQI=\"}");
    accepts("\"data\": {\"$bytes\": \"AQ==\"}");
    accepts("\"data\": {\"$bytes\": \"AQID\"}");
    accepts("\"data\": {\"$bytes\": \"\"}");
    rejects("\"data\": \"AQI=\"", "$.data", "bytes");
    rejects("\"data\": {\"$bytes\": \"AQI\"}", "$.data.$bytes", "bytes"); // unpadded: Foundation refuses it
    rejects("\"data\": {\"$bytes\": \"AQ\"}", "$.data.$bytes", "bytes");
    rejects("\"data\": {\"$bytes\": \"AQI==\"}", "$.data.$bytes", "bytes");
    rejects("\"data\": {\"$bytes\": \"-_8=\"}", "$.data.$bytes", "bytes"); // URL alphabet
    rejects("\"data\": {\"$bytes\": \"AQJ=\"}", "$.data.$bytes", "bytes"); // non-zero trailing bits
    rejects("\"data\": {\"$bytes\": \"AQIDB\"}", "$.data.$bytes", "bytes"); // impossible length
    rejects("\"data\": {\"$bytes\": \"AQI=\", \"x\": 1}", "$.data", "bytes");
    rejects("\"data\": {\"$bytes\": 12}", "$.data", "bytes");
    rejects("\"data\": {\"$bytes\": \"AQIDBA==\"}", "$.data", "maxLength"); // 4 bytes > 3
  }

  // ---- arrays, refs, unions, unknown

  @Test
  void arrayRules() {
    accepts("\"list\": [\"a\", \"b\"]");
    rejects("\"list\": []", "$.list", "minLength");
    rejects("\"list\": [\"a\", \"b\", \"c\"]", "$.list", "maxLength");
    rejects("\"list\": [\"a\", 2]", "$.list[1]", "string");
    rejects("\"list\": [null]", "$.list[0]", "null");
    rejects("\"list\": \"a\"", "$.list", "array");
  }

  @Test
  void refsResolveLocallyAndAcrossFiles() {
    accepts("\"local\": {\"z\": true}, \"remote\": {\"n\": 3}");
    rejects("\"local\": {\"z\": 1}", "$.local.z", "boolean");
    rejects("\"remote\": {}", "$.remote.n", "required");
    rejects("\"remote\": {\"n\": 3, \"m\": 4}", "$.remote.m", "undeclared");
    accepts("\"remote\": {\"$type\": \"test.lex.defs#item\", \"n\": 3}");
    rejects("\"remote\": {\"$type\": \"test.lex.defs#a\", \"n\": 3}", "$.remote.$type", "undeclared");
  }

  @Test
  void unionsNeedADeclaredType() {
    accepts("\"either\": {\"$type\": \"test.lex.defs#a\", \"x\": \"1\"}");
    accepts("\"either\": {\"$type\": \"test.lex.defs#b\"}");
    rejects("\"either\": {\"x\": \"1\"}", "$.either", "union");
    rejects("\"either\": {\"$type\": \"test.lex.defs#item\", \"n\": 1}", "$.either.$type", "union");
    rejects("\"either\": {\"$type\": \"test.lex.defs#a\"}", "$.either.x", "required");
    rejects("\"either\": 3", "$.either", "union");
  }

  @Test
  void unknownMustBeAnObject() {
    accepts("\"any\": {\"whatever\": [1, 2]}");
    rejects("\"any\": \"text\"", "$.any", "unknown");
  }

  // ---- errors

  @Test
  void errorNamesMustBeDeclaredOrGeneric() {
    assertThat(v.error("test.lex.thing", json("{\"error\": \"NotMember\", \"message\": \"no\"}"))).isEmpty();
    assertThat(v.error("test.lex.thing", json("{\"error\": \"RateLimitExceeded\", \"message\": \"slow down\"}"))).isEmpty();
    assertThat(v.error("test.lex.thing", json("{\"error\": \"ConvoNotFound\", \"message\": \"no\"}")))
        .extracting(Violation::path, Violation::rule).containsExactly(org.assertj.core.groups.Tuple.tuple("$.error", "errors"));
  }

  @Test
  void errorBodiesAreErrorAndMessageOnly() {
    assertThat(v.error("test.lex.thing", json("{\"error\": \"NotMember\"}")))
        .extracting(Violation::path).containsExactly("$.message");
    assertThat(v.error("test.lex.thing", json("{\"error\": \"NotMember\", \"message\": \"no\", \"hint\": 1}")))
        .extracting(Violation::path, Violation::rule).containsExactly(org.assertj.core.groups.Tuple.tuple("$.hint", "undeclared"));
    assertThat(v.error("test.lex.thing", json("{\"message\": \"no\"}"))).extracting(Violation::path).containsExactly("$.error");
    assertThat(v.error("test.lex.thing", json("\"NotMember\""))).extracting(Violation::rule).containsExactly("error");
  }

  @Test
  void errorsWithExtraFieldsFollowTheirBodyDef() {
    assertThat(v.error("test.lex.thing", json("{\"error\": \"StaleEpoch\", \"message\": \"m\", \"currentEpoch\": 3}"))).isEmpty();
    assertThat(v.error("test.lex.thing", json("{\"error\": \"StaleEpoch\", \"message\": \"m\"}")))
        .extracting(Violation::toString).containsExactly("$.currentEpoch: required: missing");
    assertThat(v.error("test.lex.thing", json("{\"error\": \"StaleEpoch\", \"message\": \"m\", \"currentEpoch\": \"3\", \"x\": 1}")))
        .extracting(Violation::path).containsExactlyInAnyOrder("$.currentEpoch", "$.x");
  }

  @Test
  void responsesDispatchOnStatus() {
    assertThat(v.response("test.lex.thing", 200, json("{\"s\": \"x\"}"))).isEmpty();
    assertThat(v.response("test.lex.thing", 200, json("{\"error\": \"NotMember\", \"message\": \"no\"}"))).isNotEmpty();
    assertThat(v.response("test.lex.thing", 403, json("{\"error\": \"NotMember\", \"message\": \"no\"}"))).isEmpty();
    assertThat(v.response("test.lex.thing", 403, json("{\"s\": \"x\"}"))).isNotEmpty();
    assertThat(v.response("test.lex.thing", 302, json("{}"))).extracting(Violation::rule).containsExactly("status");
  }

  // ---- subscriptions

  @Test
  void eventsAreCheckedByName() {
    assertThat(v.event("test.lex.stream", "tick", json("{\"$type\": \"test.lex.stream#tick\", \"cursor\": \"1\", \"n\": 2}"))).isEmpty();
    assertThat(v.event("test.lex.stream", "b", json("{\"$type\": \"test.lex.defs#b\", \"y\": 2}"))).isEmpty();
    assertThat(v.event("test.lex.stream", "tick", json("{\"$type\": \"test.lex.stream#tick\", \"cursor\": \"1\"}")))
        .extracting(Violation::path).containsExactly("$.n");
    assertThat(v.event("test.lex.stream", "tick", json("{\"cursor\": \"1\", \"n\": 2}"))).extracting(Violation::path)
        .containsExactly("$.$type");
    assertThat(v.event("test.lex.stream", "tock", json("{}"))).extracting(Violation::rule).containsExactly("event");
    assertThat(v.event("test.lex.thing", "tick", json("{}"))).extracting(Violation::rule).containsExactly("lexicon");
  }

  @Test
  void framesAreCheckedByType() {
    assertThat(v.frame("test.lex.stream", json("{\"$type\": \"test.lex.stream#tick\", \"cursor\": \"1\", \"n\": 2}"))).isEmpty();
    assertThat(v.frame("test.lex.stream", json("{\"cursor\": \"1\", \"n\": 2}"))).extracting(Violation::rule).containsExactly("union");
    assertThat(v.frame("test.lex.stream", json("{\"$type\": \"test.lex.stream#tick\", \"n\": 2}")))
        .extracting(Violation::path).containsExactly("$.cursor");
  }

  @Test
  void serverSentEventStreams() {
    String good = ":keepalive\n\nevent: tick\nid: 7\ndata: {\"$type\": \"test.lex.stream#tick\", \"cursor\": \"7\",\ndata:  \"n\": 1}\n\n"
        + "event: b\r\ndata: {\"$type\": \"test.lex.defs#b\"}\r\n\r\n";
    assertThat(v.sse("test.lex.stream", good)).isEmpty();
    assertThat(v.sse("test.lex.stream", "event: tick\nid: 8\ndata: {\"$type\": \"test.lex.stream#tick\", \"cursor\": \"7\", \"n\": 1}\n\n"))
        .extracting(Violation::rule).containsExactly("sse");
    assertThat(v.sse("test.lex.stream", "event: tick\nid: 7\ndata: {\"cursor\": \"7\", \"n\": 1}\n\n"))
        .extracting(Violation::path).containsExactly("event[0] tick $.$type");
    assertThat(v.sse("test.lex.stream", "event: tick\nid: 7\ndata: {\"$type\": \"test.lex.defs#b\", \"cursor\": \"7\", \"n\": 1}\n\n"))
        .extracting(Violation::rule).containsExactly("undeclared");
    assertThat(v.sse("test.lex.stream", "data: {\"y\": 1}\n\n")).extracting(Violation::rule).containsExactly("sse");
    assertThat(v.sse("test.lex.stream", "event: b\ndata: {not json\n\n")).extracting(Violation::rule).containsExactly("sse");
    assertThat(v.sse("test.lex.stream", "event: b\ndata: {\"$type\": \"test.lex.defs#b\", \"y\": \"1\"}\n\n"))
        .extracting(Violation::path, Violation::rule).containsExactly(org.assertj.core.groups.Tuple.tuple("event[0] b $.y", "integer"));
  }

  // ---- the HTTP hook, on the repository's lexicons

  @Test
  void httpHookChecksResponsesOfMethodsWithALexicon() {
    URI epoch = URI.create("http://127.0.0.1:1/xrpc/blue.catbird.mls.getEpoch?convoId=ab");
    LexiconValidator.checkHttp("GET", epoch, 200, "application/json", "{\"convoId\": \"ab\", \"currentEpoch\": 3}");
    LexiconValidator.checkHttp("GET", epoch, 403, "application/json", "{\"error\": \"NotMember\", \"message\": \"no\"}");
    assertThatThrownBy(() -> LexiconValidator.checkHttp("GET", epoch, 200, "application/json",
        "{\"convoId\": \"ab\", \"currentEpoch\": \"3\", \"epoch\": 3}"))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("blue.catbird.mls.getEpoch")
        .hasMessageContaining("$.currentEpoch: integer:")
        .hasMessageContaining("$.epoch: undeclared:");
    assertThatThrownBy(() -> LexiconValidator.checkHttp("GET", epoch, 409, "application/json",
        "{\"error\": \"StaleEpoch\", \"message\": \"m\"}"))
        .isInstanceOf(AssertionError.class).hasMessageContaining("$.error: errors:");
    assertThatThrownBy(() -> LexiconValidator.checkHttp("GET", epoch, 500, "text/html", "<html>"))
        .isInstanceOf(AssertionError.class).hasMessageContaining("not JSON");
  }

  @Test
  void httpHookChecksStaleEpochBodiesAndEventStreams() {
    URI send = URI.create("http://127.0.0.1:1/xrpc/blue.catbird.mls.sendMessage");
    LexiconValidator.checkHttp("POST", send, 409, "application/json",
        "{\"error\": \"StaleEpoch\", \"message\": \"m\", \"currentEpoch\": 4, \"latestSeq\": 9}");
    assertThatThrownBy(() -> LexiconValidator.checkHttp("POST", send, 409, "application/json",
        "{\"error\": \"StaleEpoch\", \"message\": \"m\", \"currentEpoch\": 4}"))
        .isInstanceOf(AssertionError.class).hasMessageContaining("$.latestSeq: required: missing");
    URI stream = URI.create("http://127.0.0.1:1/xrpc/blue.catbird.mls.streamConvoEvents");
    LexiconValidator.checkHttp("GET", stream, 200, "text/event-stream",
        "event: infoEvent\nid: 4\ndata: {\"$type\": \"blue.catbird.mls.streamConvoEvents#infoEvent\", \"cursor\": \"4\", \"info\": \"ready\"}\n\n");
    assertThatThrownBy(() -> LexiconValidator.checkHttp("GET", stream, 200, "text/event-stream; charset=utf-8",
        "event: membershipEvent\nid: 3\ndata: {\"$type\": \"blue.catbird.mls.streamConvoEvents#membershipEvent\", \"cursor\": \"3\", \"convoId\": \"ab\", \"did\": \"did:plc:a\", \"action\": \"remove\", \"epoch\": 2}\n\n"))
        .isInstanceOf(AssertionError.class).hasMessageContaining("$.action: knownValues:");
  }

  @Test
  void httpHookSkipsOtherPathsAndMethodsWithoutALexicon() {
    LexiconValidator.checkHttp("GET", URI.create("http://127.0.0.1:1/health"), 200, "application/json", "{\"x\": 1}");
    LexiconValidator.checkHttp("POST", URI.create("http://127.0.0.1:1/xrpc/test.echoBytes"), 200, "application/json", "{\"x\": 1}");
    LexiconValidator.checkHttp("GET", URI.create("http://127.0.0.1:1/xrpc/blue.catbird.mls.doesNotExist"), 404,
        "application/json", "{\"error\": \"MethodNotImplemented\"}");
    LexiconValidator.checkHttp("HEAD", URI.create("http://127.0.0.1:1/xrpc/blue.catbird.mls.getEpoch"), 200, "application/json", "");
  }

  // ---- the seed-era client's reading (lexicons/seed-2025-10)

  static List<Violation> seed(String nsid, String json) throws IOException {
    return LexiconValidator.seedClient().output(nsid, Json.MAPPER.readTree(json.replace('\'', '"')));
  }

  @Test
  void theSeedClientDecodesStringsAsStringsAndIgnoresAdditiveFields() throws IOException {
    assertThat(seed("blue.catbird.mls.getWelcome", "{'convoId':'c','welcome':'AQI','keyPackageRef':'ab'}")).isEmpty();
    assertThat(seed("blue.catbird.mls.getWelcome", "{'convoId':'c','welcome':{'$bytes':'AQI='}}"))
        .extracting(Violation::path).containsExactly("$.welcome");
    assertThat(seed("blue.catbird.mls.leaveConvo", "{'success':true}")).extracting(Violation::path).containsExactly("$.newEpoch");
    assertThat(seed("blue.catbird.mls.getCommits", "{'convoId':'c','commits':[{'epoch':1,'sender':'did:plc:a',"
        + "'commitData':{'$bytes':'AQI'},'createdAt':'2026-01-02T03:04:05.678Z','seq':3}]}"))
        .extracting(Violation::path).containsExactly("$.commits[0].commitData.$bytes");
  }
}
