package dev.mlsds.server.lexicon;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The project's lexicon documents: every {@code *.json} under the repository's {@code lexicons/} folder,
 * at the path that mirrors its id ({@code lexicons/blue/catbird/mls/getEpoch.json} is
 * {@code blue.catbird.mls.getEpoch}).
 *
 * <p>Loading lints every document (atproto lexicon v1 as this project uses it) and refuses the whole set on
 * any problem, naming each one: wrong {@code lexicon} version or id, an unknown type or key (a typo such
 * as {@code requried} would otherwise silently disable a check), a required property that is not declared,
 * a ref or union member that does not resolve, a string format the validator cannot check. So a
 * {@link LexiconValidator} never runs against a contract it would only half enforce.
 */
public final class Lexicons {
  public static final String DEFS = "blue.catbird.mls.defs";

  /** The string formats {@link LexiconValidator} checks; any other is a lint error. */
  static final Set<String> FORMATS = Set.of("did", "datetime", "uri");

  private static final Pattern NSID = Pattern.compile("^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+\\.[a-zA-Z][a-zA-Z0-9]*$");
  private static final Pattern DEF_NAME = Pattern.compile("^[a-zA-Z][a-zA-Z0-9]*$");
  private static final Set<String> PRIMARY = Set.of("query", "procedure", "subscription", "record");
  private static final Map<String, Set<String>> KEYS = Map.ofEntries(
      Map.entry("object", Set.of("required", "nullable", "properties")),
      Map.entry("params", Set.of("required", "properties")),
      Map.entry("string", Set.of("format", "minLength", "maxLength", "minGraphemes", "maxGraphemes", "knownValues",
          "enum", "const", "default")),
      Map.entry("integer", Set.of("minimum", "maximum", "enum", "const", "default")),
      Map.entry("boolean", Set.of("const", "default")),
      Map.entry("bytes", Set.of("minLength", "maxLength")),
      Map.entry("array", Set.of("items", "minLength", "maxLength")),
      Map.entry("ref", Set.of("ref")),
      Map.entry("union", Set.of("refs", "closed")),
      Map.entry("unknown", Set.of()),
      Map.entry("token", Set.of()),
      Map.entry("query", Set.of("parameters", "output", "errors")),
      Map.entry("procedure", Set.of("parameters", "input", "output", "errors")),
      Map.entry("subscription", Set.of("parameters", "message", "errors")));

  /**
   * The folder (under {@code lexicons/}) of the 2025-10-31 lexicon, the seed-era client's wire contract:
   * the same NSIDs, so it is loaded on its own ({@link #seed()}), never into {@link #standard()}.
   */
  public static final String SEED_FOLDER = "seed-2025-10";

  private static volatile Lexicons standard;
  private static volatile Lexicons seed;

  private final Map<String, JsonNode> docs;

  private Lexicons(Map<String, JsonNode> docs) {
    this.docs = Collections.unmodifiableMap(new TreeMap<>(docs));
  }

  /** A resolved definition: its document's id, its name in {@code defs}, and its schema. */
  public record Def(String nsid, String name, JsonNode schema) {
    /** The atproto name of the def: {@code nsid} for main, else {@code nsid#name} (as {@code $type} spells it). */
    public String fullName() {
      return name.equals("main") ? nsid : nsid + "#" + name;
    }
  }

  /** The repository's lexicons, loaded and linted once per JVM. */
  public static Lexicons standard() {
    Lexicons l = standard;
    if (l == null) {
      synchronized (Lexicons.class) {
        l = standard;
        if (l == null) {
          l = load(directory());
          standard = l;
        }
      }
    }
    return l;
  }

  /** The seed-era lexicon ({@code lexicons/seed-2025-10/}), loaded and linted once per JVM. */
  public static Lexicons seed() {
    Lexicons l = seed;
    if (l == null) {
      synchronized (Lexicons.class) {
        l = seed;
        if (l == null) {
          l = load(directory().resolve(SEED_FOLDER));
          seed = l;
        }
      }
    }
    return l;
  }

  /**
   * The repository's {@code lexicons/} folder. Tests run with the module folder as working directory, so
   * it is looked for there and in every parent.
   */
  public static Path directory() {
    List<Path> starts = List.of(Path.of(System.getProperty("user.dir")).toAbsolutePath());
    for (Path start : starts) {
      for (Path p = start; p != null; p = p.getParent()) {
        Path candidate = p.resolve("lexicons").resolve("blue").resolve("catbird").resolve("mls");
        if (Files.isDirectory(candidate)) {
          return p.resolve("lexicons").normalize();
        }
      }
    }
    throw new IllegalStateException("no lexicons/blue/catbird/mls folder above " + starts);
  }

  /** Loads and lints every {@code *.json} under {@code dir}; the id of each must match its path. */
  public static Lexicons load(Path dir) {
    Map<String, JsonNode> docs = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir)) {
      files = walk.filter(p -> p.toString().endsWith(".json"))
          .filter(p -> dir.getFileName().toString().equals(SEED_FOLDER) || !dir.relativize(p).startsWith(SEED_FOLDER))
          .sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (Path file : files) {
      String rel = dir.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
      String expectedId = rel.substring(0, rel.length() - ".json".length()).replace('/', '.');
      JsonNode doc;
      try {
        doc = Json.MAPPER.readTree(file.toFile());
      } catch (IOException e) {
        problems.add(rel + ": not JSON: " + e.getMessage());
        continue;
      }
      String id = doc.path("id").asText("");
      if (!id.equals(expectedId)) {
        problems.add(rel + ": id must be '" + expectedId + "' (the file's path), is '" + id + "'");
        continue;
      }
      docs.put(id, doc);
    }
    return build(docs, problems);
  }

  /** Lints and wraps documents given as JSON text (unit tests). */
  public static Lexicons of(String... documents) {
    Map<String, JsonNode> docs = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    for (String text : documents) {
      try {
        JsonNode doc = Json.MAPPER.readTree(text);
        String id = doc.path("id").asText("");
        if (docs.put(id, doc) != null) {
          problems.add(id + ": defined twice");
        }
      } catch (IOException e) {
        throw new IllegalArgumentException("not JSON: " + e.getMessage(), e);
      }
    }
    return build(docs, problems);
  }

  private static Lexicons build(Map<String, JsonNode> docs, List<String> problems) {
    Lexicons lexicons = new Lexicons(docs);
    for (Map.Entry<String, JsonNode> e : docs.entrySet()) {
      new Lint(lexicons, e.getKey(), problems).document(e.getValue());
    }
    if (!problems.isEmpty()) {
      throw new IllegalStateException("lexicons do not lint clean:\n  " + String.join("\n  ", problems));
    }
    return lexicons;
  }

  public Set<String> ids() {
    return docs.keySet();
  }

  public boolean has(String nsid) {
    return docs.containsKey(nsid);
  }

  public Optional<JsonNode> document(String nsid) {
    return Optional.ofNullable(docs.get(nsid));
  }

  /** The {@code main} def of {@code nsid}, if the document exists and has one. */
  public Optional<JsonNode> main(String nsid) {
    return document(nsid).map(d -> d.path("defs").get("main"));
  }

  /** The type of {@code nsid}'s main def ({@code query}, {@code procedure}, {@code subscription}, …). */
  public Optional<String> type(String nsid) {
    return main(nsid).map(m -> m.path("type").asText());
  }

  /** The ids whose main def has type {@code type}. */
  public Set<String> idsOfType(String type) {
    Set<String> out = new java.util.TreeSet<>();
    for (String id : docs.keySet()) {
      if (type(id).filter(type::equals).isPresent()) {
        out.add(id);
      }
    }
    return out;
  }

  /**
   * Resolves {@code ref} as written in document {@code context}: {@code #name} (same document),
   * {@code nsid#name}, or {@code nsid} (its main).
   */
  public Optional<Def> resolve(String context, String ref) {
    String nsid;
    String name;
    int hash = ref.indexOf('#');
    if (hash == 0) {
      nsid = context;
      name = ref.substring(1);
    } else if (hash > 0) {
      nsid = ref.substring(0, hash);
      name = ref.substring(hash + 1);
    } else {
      nsid = ref;
      name = "main";
    }
    JsonNode schema = docs.containsKey(nsid) ? docs.get(nsid).path("defs").get(name) : null;
    return schema == null ? Optional.empty() : Optional.of(new Def(nsid, name, schema));
  }

  /** The lint rules, one document at a time. */
  private static final class Lint {
    private final Lexicons lexicons;
    private final String nsid;
    private final List<String> problems;

    Lint(Lexicons lexicons, String nsid, List<String> problems) {
      this.lexicons = lexicons;
      this.nsid = nsid;
      this.problems = problems;
    }

    void document(JsonNode doc) {
      if (!doc.isObject()) {
        problem("", "a lexicon document must be a JSON object");
        return;
      }
      keys(doc, "", Set.of("lexicon", "id", "description", "defs", "revision"));
      if (!doc.path("lexicon").isInt() || doc.path("lexicon").intValue() != 1) {
        problem("lexicon", "must be 1");
      }
      if (!NSID.matcher(nsid).matches()) {
        problem("id", "not an NSID: " + nsid);
      }
      JsonNode defs = doc.path("defs");
      if (!defs.isObject() || defs.isEmpty()) {
        problem("defs", "must be a non-empty object");
        return;
      }
      for (Map.Entry<String, JsonNode> def : defs.properties()) {
        String at = "defs." + def.getKey();
        if (!DEF_NAME.matcher(def.getKey()).matches()) {
          problem(at, "not a valid def name");
        }
        String type = def.getValue().path("type").asText("");
        if (PRIMARY.contains(type)) {
          if (!def.getKey().equals("main")) {
            problem(at, "a " + type + " must be the main def");
          }
          primary(def.getValue(), at, type);
        } else {
          schema(def.getValue(), at, true);
        }
      }
    }

    private void primary(JsonNode def, String at, String type) {
      if (type.equals("record")) {
        problem(at, "records are not used by this service");
        return;
      }
      keys(def, at, KEYS.get(type));
      if (def.has("parameters")) {
        params(def.get("parameters"), at + ".parameters");
      }
      if (def.has("input")) {
        body(def.get("input"), at + ".input");
      }
      if (def.has("output")) {
        body(def.get("output"), at + ".output");
      }
      if (type.equals("subscription")) {
        JsonNode message = def.path("message");
        if (!message.isObject()) {
          problem(at + ".message", "a subscription needs a message");
        } else {
          keys(message, at + ".message", Set.of("schema"));
          if (!message.path("schema").path("type").asText().equals("union")) {
            problem(at + ".message.schema", "must be a union");
          }
          schema(message.path("schema"), at + ".message.schema", false);
        }
      }
      if (def.has("errors")) {
        JsonNode errors = def.get("errors");
        Set<String> names = new HashSet<>();
        if (!errors.isArray()) {
          problem(at + ".errors", "must be an array");
          return;
        }
        for (int i = 0; i < errors.size(); i++) {
          JsonNode e = errors.get(i);
          String eat = at + ".errors[" + i + "]";
          keys(e, eat, Set.of("name"));
          String name = e.path("name").asText("");
          if (!DEF_NAME.matcher(name).matches()) {
            problem(eat + ".name", "must be an identifier, is '" + name + "'");
          } else if (!names.add(name)) {
            problem(eat + ".name", "declared twice: " + name);
          }
        }
      }
    }

    private void params(JsonNode p, String at) {
      if (!p.path("type").asText().equals("params")) {
        problem(at, "type must be params");
        return;
      }
      keys(p, at, KEYS.get("params"));
      properties(p, at);
      for (Map.Entry<String, JsonNode> prop : p.path("properties").properties()) {
        String t = prop.getValue().path("type").asText();
        boolean ok = Set.of("boolean", "integer", "string", "unknown").contains(t)
            || t.equals("array") && Set.of("boolean", "integer", "string").contains(prop.getValue().path("items").path("type").asText());
        if (!ok) {
          problem(at + ".properties." + prop.getKey(), "a parameter must be boolean, integer, string, unknown or an array of those");
        }
      }
    }

    private void body(JsonNode b, String at) {
      keys(b, at, Set.of("encoding", "schema"));
      if (!b.path("encoding").isTextual()) {
        problem(at + ".encoding", "required");
      }
      if (b.has("schema")) {
        String t = b.get("schema").path("type").asText();
        if (!Set.of("object", "ref", "union").contains(t)) {
          problem(at + ".schema", "must be an object, ref or union");
        }
        schema(b.get("schema"), at + ".schema", false);
      }
    }

    private void schema(JsonNode s, String at, boolean topLevel) {
      String type = s.path("type").asText("");
      Set<String> allowed = KEYS.get(type);
      if (allowed == null || PRIMARY.contains(type) || type.equals("params")) {
        problem(at, "unknown or misplaced type '" + type + "'");
        return;
      }
      if (type.equals("token") && !topLevel) {
        problem(at, "a token is only a named def");
      }
      keys(s, at, allowed);
      switch (type) {
        case "object" -> {
          properties(s, at);
          for (Map.Entry<String, JsonNode> prop : s.path("properties").properties()) {
            schema(prop.getValue(), at + ".properties." + prop.getKey(), false);
          }
          for (JsonNode n : s.path("nullable")) {
            if (!s.path("properties").has(n.asText())) {
              problem(at + ".nullable", "names an undeclared property: " + n.asText());
            }
          }
        }
        case "array" -> {
          if (!s.path("items").isObject()) {
            problem(at + ".items", "required");
          } else {
            schema(s.get("items"), at + ".items", false);
          }
          range(s, at, "minLength", "maxLength");
        }
        case "string" -> {
          if (s.has("format") && !FORMATS.contains(s.get("format").asText())) {
            problem(at + ".format", "not checked by LexiconValidator: " + s.get("format").asText()
                + " (supported: " + new java.util.TreeSet<>(FORMATS) + ")");
          }
          range(s, at, "minLength", "maxLength");
          range(s, at, "minGraphemes", "maxGraphemes");
          for (String k : List.of("knownValues", "enum")) {
            if (s.has(k) && (!s.get(k).isArray() || s.get(k).isEmpty())) {
              problem(at + "." + k, "must be a non-empty array of strings");
            }
          }
        }
        case "integer" -> range(s, at, "minimum", "maximum");
        case "bytes" -> range(s, at, "minLength", "maxLength");
        case "ref" -> ref(s.path("ref").asText(""), at + ".ref");
        case "union" -> {
          if (!s.path("refs").isArray() || s.path("refs").isEmpty()) {
            problem(at + ".refs", "must be a non-empty array");
          }
          for (JsonNode r : s.path("refs")) {
            ref(r.asText(""), at + ".refs");
          }
        }
        default -> { }
      }
    }

    private void properties(JsonNode s, String at) {
      JsonNode props = s.path("properties");
      if (!props.isObject()) {
        problem(at + ".properties", "must be an object");
        return;
      }
      for (JsonNode r : s.path("required")) {
        if (!props.has(r.asText())) {
          problem(at + ".required", "names an undeclared property: " + r.asText());
        }
      }
    }

    private void ref(String ref, String at) {
      Optional<Def> def = lexicons.resolve(nsid, ref);
      if (def.isEmpty()) {
        problem(at, "does not resolve: " + ref);
      } else if (PRIMARY.contains(def.get().schema().path("type").asText())) {
        problem(at, "refers to a " + def.get().schema().path("type").asText() + ": " + ref);
      }
    }

    private void range(JsonNode s, String at, String min, String max) {
      for (String k : List.of(min, max)) {
        if (s.has(k) && !(s.get(k).isIntegralNumber() && (k.equals("minimum") || k.equals("maximum") || s.get(k).longValue() >= 0))) {
          problem(at + "." + k, "must be an integer" + (k.contains("Length") || k.contains("Graphemes") ? " ≥ 0" : ""));
        }
      }
      if (s.has(min) && s.has(max) && s.get(min).longValue() > s.get(max).longValue()) {
        problem(at, min + " > " + max);
      }
    }

    private void keys(JsonNode node, String at, Set<String> allowed) {
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        String k = field.getKey();
        if (!k.equals("type") && !k.equals("description") && !allowed.contains(k)) {
          problem(at.isEmpty() ? k : at + "." + k, "unknown key (typo?)");
        }
      }
    }

    private void problem(String at, String what) {
      problems.add(nsid + (at.isEmpty() ? "" : " " + at) + ": " + what);
    }
  }
}
