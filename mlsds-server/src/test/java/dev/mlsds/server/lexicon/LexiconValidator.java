package dev.mlsds.server.lexicon;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.text.BreakIterator;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks what the server sends against the lexicon contract, so the field, event and action names of the
 * handlers and of the lexicon files cannot drift apart (the original server's iOS decoder broke that way).
 *
 * <p>It is stricter than a lenient client would be, on purpose, because it checks the server and not a
 * peer: a field the schema does not declare is a violation (drift is caught both ways); a
 * {@code knownValues} string must be one of the listed values (clients should tolerate new values, but the
 * server may only send declared ones); bytes must be exactly {@code {"$bytes": "<base64, standard alphabet,
 * = padded>"}}; datetimes must be RFC 3339 UTC with millisecond precision (docs/api.md §1).
 *
 * <p>Error responses: {@code error} must be a name the method declares in {@code errors}, or one of
 * {@link #GENERIC_ERRORS} that any method can return, and {@code message} a string. Other fields are
 * allowed only when the error's body is described by a def named {@code <errorName>Error} with a lower-case
 * first letter (e.g. {@code blue.catbird.mls.defs#staleEpochError} adds {@code currentEpoch} and
 * {@code latestSeq}), looked up in the method's own document, then in {@code blue.catbird.mls.defs}.
 *
 * <p>Subscriptions have no JSON output; their events are checked with {@link #event} (Server-Sent Events,
 * named by the {@code event:} line) or {@link #frame} (WebSocket frames, named by {@code $type}).
 */
public final class LexiconValidator {
  /** Errors every method can return; they need not be declared per method. */
  public static final Set<String> GENERIC_ERRORS = Set.of("AuthenticationRequired", "InvalidToken", "ExpiredToken",
      "BadTokenAudience", "BadTokenMethod", "TokenReplayed", "RateLimitExceeded", "InvalidRequest", "PayloadTooLarge",
      "InternalError", "Unavailable", "MethodNotImplemented");

  private static final Pattern DID = Pattern.compile("^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$");
  private static final Pattern DATETIME = Pattern.compile("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$");
  private static final Pattern BASE64 = Pattern.compile("^[A-Za-z0-9+/]*={0,2}$");

  /** One way a value breaks its schema: where ({@code $.members[0].did}), which rule, and what was found. */
  public record Violation(String path, String rule, String detail) {
    @Override
    public String toString() {
      return path + ": " + rule + ": " + detail;
    }
  }

  private final Lexicons lexicons;
  /** A generated client's reading: fields the schema does not declare are ignored (they are additive). */
  private final boolean clientView;

  public LexiconValidator(Lexicons lexicons) {
    this(lexicons, false);
  }

  private LexiconValidator(Lexicons lexicons, boolean clientView) {
    this.lexicons = lexicons;
    this.clientView = clientView;
  }

  /**
   * The seed-era client's reading of a response (lexicons/seed-2025-10): every required field present with
   * its exact type (a {@code string} is never {@code {"$bytes": …}}, bytes are padded base64), undeclared
   * fields ignored, as a client generated from those lexicons decodes.
   */
  public static LexiconValidator seedClient() {
    return new LexiconValidator(Lexicons.seed(), true);
  }

  /** A validator over the repository's lexicons. */
  public static LexiconValidator standard() {
    return new LexiconValidator(Lexicons.standard());
  }

  public Lexicons lexicons() {
    return lexicons;
  }

  /** A response of any status: 2xx against the output schema, 4xx/5xx against the declared errors. */
  public List<Violation> response(String nsid, int status, JsonNode body) {
    if (status >= 200 && status < 300) {
      return output(nsid, body);
    }
    if (status >= 400 && status < 600) {
      return error(nsid, body);
    }
    return List.of(new Violation("$", "status", "unexpected HTTP status " + status));
  }

  /** A successful (2xx) JSON body of a query or procedure. */
  public List<Violation> output(String nsid, JsonNode body) {
    return output(nsid, body, false);
  }

  /**
   * Like {@link #output}, and every optional property must be present too: for samples built with every
   * field set, this shows which declared fields the server can never produce.
   */
  List<Violation> outputComplete(String nsid, JsonNode body) {
    return output(nsid, body, true);
  }

  private List<Violation> output(String nsid, JsonNode body, boolean complete) {
    Optional<JsonNode> main = lexicons.main(nsid);
    if (main.isEmpty()) {
      return List.of(new Violation("$", "lexicon", "no lexicon with a main def for " + nsid));
    }
    String type = main.get().path("type").asText();
    if (!type.equals("query") && !type.equals("procedure")) {
      return List.of(new Violation("$", "lexicon", nsid + " is a " + type + ", which has no JSON output"));
    }
    JsonNode schema = main.get().path("output").get("schema");
    Walk w = new Walk(complete);
    if (schema == null) {
      if (body != null && !(body.isObject() && body.isEmpty())) {
        w.add("$", "output", "the lexicon declares no output schema, so the body must be empty or {}");
      }
    } else {
      w.check(schema, nsid, null, body, "$");
    }
    return w.violations;
  }

  /** An error body ({@code {"error", "message", …}}) of a call to {@code nsid}. */
  public List<Violation> error(String nsid, JsonNode body) {
    Walk w = new Walk(false);
    if (body == null || !body.isObject()) {
      w.add("$", "error", "an error body must be a JSON object, got " + kind(body));
      return w.violations;
    }
    JsonNode name = body.get("error");
    if (name == null || !name.isTextual() || name.textValue().isEmpty()) {
      w.add("$.error", "error", "must be a non-empty string, got " + kind(name));
      return w.violations;
    }
    if (body.get("message") == null || !body.get("message").isTextual()) {
      w.add("$.message", "error", "must be a string, got " + kind(body.get("message")));
    }
    String error = name.textValue();
    Set<String> declared = declaredErrors(nsid);
    if (!declared.contains(error) && !GENERIC_ERRORS.contains(error)) {
      w.add("$.error", "errors", "'" + error + "' is not declared in " + nsid + "'s errors " + declared
          + " and is not a generic error");
    }
    String defName = Character.toLowerCase(error.charAt(0)) + error.substring(1) + "Error";
    Optional<Lexicons.Def> bodyDef = lexicons.resolve(nsid, "#" + defName)
        .or(() -> lexicons.resolve(Lexicons.DEFS, "#" + defName));
    if (bodyDef.isPresent()) {
      Lexicons.Def d = bodyDef.get();
      w.check(d.schema(), d.nsid(), d.fullName(), body, "$");
    } else {
      for (Map.Entry<String, JsonNode> f : body.properties()) {
        if (!f.getKey().equals("error") && !f.getKey().equals("message")) {
          w.add("$." + f.getKey(), "undeclared", "field not declared for error " + error
              + " (add a def '" + defName + "' describing its body)");
        }
      }
    }
    return w.violations;
  }

  /** The error names {@code nsid} declares. */
  public Set<String> declaredErrors(String nsid) {
    Set<String> names = new java.util.TreeSet<>();
    lexicons.main(nsid).ifPresent(m -> m.path("errors").forEach(e -> names.add(e.path("name").asText())));
    return names;
  }

  /**
   * One Server-Sent Event of subscription {@code nsid}: {@code eventName} is its {@code event:} line, and the
   * data object carries the same event's full name as {@code $type}.
   */
  public List<Violation> event(String nsid, String eventName, JsonNode data) {
    Walk w = new Walk(false);
    Optional<JsonNode> union = messageUnion(nsid, w);
    if (union.isEmpty()) {
      return w.violations;
    }
    for (JsonNode ref : union.get().path("refs")) {
      Optional<Lexicons.Def> d = lexicons.resolve(nsid, ref.asText());
      if (d.isPresent() && d.get().name().equals(eventName)) {
        // Clients that read only the data lines (the 2025 Catbird client) dispatch on $type.
        if (data != null && data.isObject() && !data.path("$type").isTextual()) {
          w.add("$.$type", "event", "missing: the data object must name its event (" + d.get().fullName() + ")");
        }
        w.check(d.get().schema(), d.get().nsid(), d.get().fullName(), data, "$");
        return w.violations;
      }
    }
    w.add("$", "event", "'" + eventName + "' is not an event of " + nsid + " " + union.get().path("refs"));
    return w.violations;
  }

  /** One WebSocket frame of subscription {@code nsid}: the event object, named by its {@code $type}. */
  public List<Violation> frame(String nsid, JsonNode frame) {
    Walk w = new Walk(false);
    messageUnion(nsid, w).ifPresent(u -> w.check(u, nsid, null, frame, "$"));
    return w.violations;
  }

  /**
   * A whole Server-Sent Events body of subscription {@code nsid}: every event is named, its data is JSON
   * valid for that event, and its {@code id:} equals the data's {@code cursor} when it has one.
   */
  public List<Violation> sse(String nsid, String text) {
    List<Violation> out = new ArrayList<>();
    String[] blocks = text.replace("\r\n", "\n").replace('\r', '\n').split("\n\n");
    int index = 0;
    for (String block : blocks) {
      String event = null;
      String id = null;
      StringBuilder data = null;
      for (String line : block.split("\n")) {
        if (line.isEmpty() || line.startsWith(":")) {
          continue;
        }
        int colon = line.indexOf(':');
        String field = colon < 0 ? line : line.substring(0, colon);
        String value = colon < 0 ? "" : line.substring(colon + 1);
        if (value.startsWith(" ")) {
          value = value.substring(1);
        }
        switch (field) {
          case "event" -> event = value;
          case "id" -> id = value;
          case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
          default -> { }
        }
      }
      if (data == null && event == null) {
        continue;
      }
      String at = "event[" + index++ + "]" + (event == null ? "" : " " + event);
      if (event == null) {
        out.add(new Violation(at, "sse", "an event must be named by an 'event:' line"));
        continue;
      }
      JsonNode node;
      try {
        node = Json.MAPPER.readTree(data == null ? "" : data.toString());
      } catch (IOException e) {
        out.add(new Violation(at, "sse", "data is not JSON: " + e.getMessage()));
        continue;
      }
      for (Violation v : event(nsid, event, node)) {
        out.add(new Violation(at + " " + v.path(), v.rule(), v.detail()));
      }
      JsonNode cursor = node == null ? null : node.get("cursor");
      if (cursor != null && cursor.isTextual() && !cursor.textValue().equals(id)) {
        out.add(new Violation(at, "sse", "the 'id:' line (" + id + ") must equal data.cursor (" + cursor.textValue() + ")"));
      }
    }
    return out;
  }

  /** A value against any def, e.g. {@code value("blue.catbird.mls.defs#convoView", node)}. */
  public List<Violation> value(String ref, JsonNode value) {
    Walk w = new Walk(false);
    Optional<Lexicons.Def> d = lexicons.resolve(Lexicons.DEFS, ref);
    if (d.isEmpty()) {
      w.add("$", "ref", "does not resolve: " + ref);
    } else {
      w.check(d.get().schema(), d.get().nsid(), d.get().fullName(), value, "$");
    }
    return w.violations;
  }

  private Optional<JsonNode> messageUnion(String nsid, Walk w) {
    Optional<JsonNode> main = lexicons.main(nsid);
    if (main.isEmpty() || !main.get().path("type").asText().equals("subscription")) {
      w.add("$", "lexicon", nsid + " is not a subscription");
      return Optional.empty();
    }
    return Optional.of(main.get().path("message").path("schema"));
  }

  /**
   * The test HTTP client's hook: checks a response to {@code /xrpc/<nsid>} when the repository has a
   * lexicon for {@code nsid}, and throws an {@link AssertionError} naming the method, each path and rule.
   * Other paths and NSIDs without a lexicon (tests' own {@code test.*} methods) are not checked.
   */
  public static void checkHttp(String httpMethod, URI uri, int status, String contentType, String body) {
    String path = uri.getPath();
    if (path == null || !path.startsWith("/xrpc/") || httpMethod.equals("HEAD")) {
      return;
    }
    String nsid = path.substring("/xrpc/".length());
    LexiconValidator validator = standard();
    if (!validator.lexicons.has(nsid)) {
      return;
    }
    List<Violation> violations;
    if (contentType != null && contentType.startsWith("text/event-stream") && status == 200) {
      violations = validator.sse(nsid, body);
    } else {
      JsonNode node;
      try {
        node = Json.MAPPER.readTree(body);
      } catch (IOException e) {
        node = null;
      }
      violations = node == null || node.isMissingNode()
          ? List.of(new Violation("$", "json", "the response body is not JSON"))
          : validator.response(nsid, status, node);
    }
    if (!violations.isEmpty()) {
      throw new AssertionError(describe(nsid, status, violations, body));
    }
    // A success must also decode as the seed-era client decodes it (lexicons/seed-2025-10). Its errors are
    // status codes only, and its event stream is checked by the realtime tests.
    LexiconValidator seed = seedClient();
    boolean stream = contentType != null && contentType.startsWith("text/event-stream");
    if (status == 200 && !stream && seed.lexicons.main(nsid).map(m -> !m.path("type").asText().equals("subscription")
        && m.path("output").path("encoding").asText().equals("application/json")).orElse(false)) {
      List<Violation> seedViolations;
      try {
        seedViolations = seed.response(nsid, status, Json.MAPPER.readTree(body));
      } catch (IOException e) {
        seedViolations = List.of(new Violation("$", "json", "the response body is not JSON"));
      }
      if (!seedViolations.isEmpty()) {
        throw new AssertionError("seed-era client (lexicons/" + Lexicons.SEED_FOLDER + "): "
            + describe(nsid, status, seedViolations, body));
      }
    }
  }

  /** The message of a failed check: the method, each violation, and the (abbreviated) body. */
  public static String describe(String nsid, int status, List<Violation> violations, String body) {
    StringBuilder sb = new StringBuilder("response of ").append(nsid).append(" (HTTP ").append(status)
        .append(") breaks its lexicon:");
    for (Violation v : violations) {
      sb.append("\n  ").append(v);
    }
    String b = body == null ? "" : body;
    sb.append("\n  body: ").append(b.length() > 2000 ? b.substring(0, 2000) + "…" : b);
    return sb.toString();
  }

  /** One validation pass. */
  private final class Walk {
    final List<Violation> violations = new ArrayList<>();
    final boolean complete;

    Walk(boolean complete) {
      this.complete = complete;
    }

    void add(String path, String rule, String detail) {
      violations.add(new Violation(path, rule, detail));
    }

    /**
     * Checks {@code value} at {@code path} against {@code schema}, written in document {@code nsid};
     * {@code defName} is the full name of the def being checked (the only {@code $type} an object may carry).
     */
    void check(JsonNode schema, String nsid, String defName, JsonNode value, String path) {
      String type = schema.path("type").asText();
      switch (type) {
        case "ref" -> {
          Optional<Lexicons.Def> d = lexicons.resolve(nsid, schema.path("ref").asText());
          if (d.isEmpty()) {
            add(path, "ref", "does not resolve: " + schema.path("ref").asText());
          } else {
            check(d.get().schema(), d.get().nsid(), d.get().fullName(), value, path);
          }
        }
        case "union" -> union(schema, nsid, value, path);
        case "object" -> object(schema, nsid, defName, value, path);
        case "string" -> string(schema, value, path);
        case "integer" -> integer(schema, value, path);
        case "boolean" -> bool(schema, value, path);
        case "bytes" -> bytes(schema, value, path);
        case "array" -> array(schema, nsid, value, path);
        case "unknown" -> {
          if (!value.isObject()) {
            add(path, "unknown", "must be an object, got " + kind(value));
          }
        }
        default -> add(path, "schema", "type '" + type + "' cannot be validated");
      }
    }

    private void union(JsonNode schema, String nsid, JsonNode value, String path) {
      if (!value.isObject()) {
        add(path, "union", "must be an object, got " + kind(value));
        return;
      }
      JsonNode t = value.get("$type");
      if (t == null || !t.isTextual()) {
        add(path, "union", "a union member must carry $type");
        return;
      }
      List<String> names = new ArrayList<>();
      for (JsonNode ref : schema.path("refs")) {
        Optional<Lexicons.Def> d = lexicons.resolve(nsid, ref.asText());
        if (d.isEmpty()) {
          continue;
        }
        names.add(d.get().fullName());
        if (d.get().fullName().equals(t.textValue()) || (d.get().nsid() + "#main").equals(t.textValue())) {
          check(d.get().schema(), d.get().nsid(), t.textValue(), value, path);
          return;
        }
      }
      add(path + ".$type", "union", "'" + t.textValue() + "' is not one of " + names);
    }

    private void object(JsonNode schema, String nsid, String defName, JsonNode value, String path) {
      if (!value.isObject()) {
        add(path, "object", "must be an object, got " + kind(value));
        return;
      }
      JsonNode props = schema.path("properties");
      Set<String> nullable = new java.util.HashSet<>();
      schema.path("nullable").forEach(n -> nullable.add(n.asText()));
      Set<String> required = new java.util.HashSet<>();
      for (JsonNode r : schema.path("required")) {
        required.add(r.asText());
        if (!value.has(r.asText())) {
          add(path + "." + r.asText(), "required", "missing");
        }
      }
      for (Map.Entry<String, JsonNode> f : value.properties()) {
        String key = f.getKey();
        String at = path + "." + key;
        if (key.equals("$type")) {
          if (!clientView && (defName == null || !f.getValue().isTextual() || !f.getValue().textValue().equals(defName))) {
            add(at, "undeclared", "$type " + f.getValue() + " where " + (defName == null ? "none is expected" : defName + " is checked"));
          }
          continue;
        }
        JsonNode prop = props.get(key);
        if (prop == null) {
          if (!clientView) {
            add(at, "undeclared", "field not declared in the lexicon");
          }
        } else if (f.getValue().isNull()) {
          if (!nullable.contains(key)) {
            add(at, "null", "null is not allowed (omit the field, or declare it nullable)");
          }
        } else {
          check(prop, nsid, null, f.getValue(), at);
        }
      }
      if (complete) {
        for (Map.Entry<String, JsonNode> p : props.properties()) {
          if (!value.has(p.getKey()) && !required.contains(p.getKey())) {
            add(path + "." + p.getKey(), "complete", "declared in the lexicon but never produced");
          }
        }
      }
    }

    private void string(JsonNode schema, JsonNode value, String path) {
      if (!value.isTextual()) {
        add(path, "string", "must be a string, got " + kind(value));
        return;
      }
      String s = value.textValue();
      if (schema.has("const") && !schema.get("const").asText().equals(s)) {
        add(path, "const", "'" + s + "' must be '" + schema.get("const").asText() + "'");
      }
      for (String k : List.of("enum", "knownValues")) {
        if (schema.has(k) && !contains(schema.get(k), s)) {
          add(path, k, "'" + abbreviate(s) + "' is not one of " + schema.get(k)
              + (k.equals("knownValues") ? " (the server may only send declared values)" : ""));
        }
      }
      int bytes = s.getBytes(StandardCharsets.UTF_8).length;
      if (schema.has("maxLength") && bytes > schema.get("maxLength").longValue()) {
        add(path, "maxLength", bytes + " UTF-8 bytes > " + schema.get("maxLength").longValue());
      }
      if (schema.has("minLength") && bytes < schema.get("minLength").longValue()) {
        add(path, "minLength", bytes + " UTF-8 bytes < " + schema.get("minLength").longValue());
      }
      if (schema.has("maxGraphemes") || schema.has("minGraphemes")) {
        int g = graphemes(s);
        if (schema.has("maxGraphemes") && g > schema.get("maxGraphemes").longValue()) {
          add(path, "maxGraphemes", g + " graphemes > " + schema.get("maxGraphemes").longValue());
        }
        if (schema.has("minGraphemes") && g < schema.get("minGraphemes").longValue()) {
          add(path, "minGraphemes", g + " graphemes < " + schema.get("minGraphemes").longValue());
        }
      }
      String format = schema.path("format").asText("");
      switch (format) {
        case "did" -> {
          if (s.length() > 2048 || !DID.matcher(s).matches()) {
            add(path, "format did", "'" + abbreviate(s) + "' is not a DID");
          }
        }
        case "datetime" -> {
          if (!DATETIME.matcher(s).matches() || !parses(s)) {
            add(path, "format datetime", "'" + abbreviate(s)
                + "' is not an RFC 3339 UTC datetime with millisecond precision (e.g. 2026-01-02T03:04:05.678Z)");
          }
        }
        case "uri" -> {
          if (!isUri(s)) {
            add(path, "format uri", "'" + abbreviate(s) + "' is not an absolute URI");
          }
        }
        case "" -> { }
        default -> add(path, "format", "format '" + format + "' cannot be validated");
      }
    }

    private void integer(JsonNode schema, JsonNode value, String path) {
      if (!value.isIntegralNumber() || !value.canConvertToLong()) {
        add(path, "integer", "must be an integer, got " + kind(value));
        return;
      }
      long v = value.longValue();
      if (schema.has("const") && schema.get("const").longValue() != v) {
        add(path, "const", v + " must be " + schema.get("const").longValue());
      }
      if (schema.has("enum")) {
        boolean found = false;
        for (JsonNode e : schema.get("enum")) {
          found |= e.longValue() == v;
        }
        if (!found) {
          add(path, "enum", v + " is not one of " + schema.get("enum"));
        }
      }
      if (schema.has("minimum") && v < schema.get("minimum").longValue()) {
        add(path, "minimum", v + " < " + schema.get("minimum").longValue());
      }
      if (schema.has("maximum") && v > schema.get("maximum").longValue()) {
        add(path, "maximum", v + " > " + schema.get("maximum").longValue());
      }
    }

    private void bool(JsonNode schema, JsonNode value, String path) {
      if (!value.isBoolean()) {
        add(path, "boolean", "must be a boolean, got " + kind(value));
      } else if (schema.has("const") && schema.get("const").asBoolean() != value.booleanValue()) {
        add(path, "const", value.booleanValue() + " must be " + schema.get("const").asBoolean());
      }
    }

    private void bytes(JsonNode schema, JsonNode value, String path) {
      JsonNode b64 = value.isObject() && value.size() == 1 ? value.get("$bytes") : null;
      if (b64 == null || !b64.isTextual()) {
        add(path, "bytes", "must be {\"$bytes\": \"<base64>\"}, got " + abbreviate(value.toString()));
        return;
      }
      String s = b64.textValue();
      byte[] decoded = null;
      if (BASE64.matcher(s).matches() && s.length() % 4 == 0) {
        decoded = Base64.getDecoder().decode(s);
        if (!Base64.getEncoder().encodeToString(decoded).equals(s)) {
          decoded = null;
        }
      }
      if (decoded == null) {
        add(path + ".$bytes", "bytes", "must be canonical base64, standard alphabet, = padded: '" + abbreviate(s) + "'");
        return;
      }
      if (schema.has("maxLength") && decoded.length > schema.get("maxLength").longValue()) {
        add(path, "maxLength", decoded.length + " bytes > " + schema.get("maxLength").longValue());
      }
      if (schema.has("minLength") && decoded.length < schema.get("minLength").longValue()) {
        add(path, "minLength", decoded.length + " bytes < " + schema.get("minLength").longValue());
      }
    }

    private void array(JsonNode schema, String nsid, JsonNode value, String path) {
      if (!value.isArray()) {
        add(path, "array", "must be an array, got " + kind(value));
        return;
      }
      if (schema.has("maxLength") && value.size() > schema.get("maxLength").longValue()) {
        add(path, "maxLength", value.size() + " items > " + schema.get("maxLength").longValue());
      }
      if (schema.has("minLength") && value.size() < schema.get("minLength").longValue()) {
        add(path, "minLength", value.size() + " items < " + schema.get("minLength").longValue());
      }
      for (int i = 0; i < value.size(); i++) {
        JsonNode item = value.get(i);
        if (item.isNull()) {
          add(path + "[" + i + "]", "null", "null items are not allowed");
        } else {
          check(schema.path("items"), nsid, null, item, path + "[" + i + "]");
        }
      }
    }
  }

  private static boolean contains(JsonNode values, String s) {
    for (JsonNode v : values) {
      if (v.asText().equals(s)) {
        return true;
      }
    }
    return false;
  }

  private static boolean parses(String s) {
    try {
      Instant.parse(s);
      return true;
    } catch (DateTimeParseException e) {
      return false;
    }
  }

  private static boolean isUri(String s) {
    if (s.length() > 8192 || s.chars().anyMatch(Character::isWhitespace)) {
      return false;
    }
    try {
      URI u = new URI(s);
      return u.isAbsolute() && u.getRawSchemeSpecificPart() != null && !u.getRawSchemeSpecificPart().isEmpty();
    } catch (URISyntaxException e) {
      return false;
    }
  }

  private static int graphemes(String s) {
    BreakIterator it = BreakIterator.getCharacterInstance(Locale.ROOT);
    it.setText(s);
    int n = 0;
    while (it.next() != BreakIterator.DONE) {
      n++;
    }
    return n;
  }

  private static String kind(JsonNode n) {
    if (n == null || n.isMissingNode()) {
      return "nothing";
    }
    return n.getNodeType().name().toLowerCase(Locale.ROOT) + " " + abbreviate(n.toString());
  }

  private static String abbreviate(String s) {
    return s.length() > 80 ? s.substring(0, 80) + "…" : s;
  }
}
