package dev.mlsds.benchmarks.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The project's lexicon files: every method with its parameter and input schemas, refs resolvable. */
final class LexiconMethods {
  /** One XRPC method: {@code kind} is query, procedure or subscription; schemas are objects or null. */
  record Method(String nsid, String kind, JsonNode params, JsonNode input) {
    String name() {
      return nsid.substring(nsid.lastIndexOf('.') + 1);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private final Map<String, JsonNode> docs = new HashMap<>();
  final List<Method> methods = new ArrayList<>();

  LexiconMethods(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir, 1)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
        JsonNode doc = JSON.readTree(f.toFile());
        String id = doc.get("id").asText();
        docs.put(id, doc);
        JsonNode main = doc.path("defs").get("main");
        if (main == null) {
          continue;
        }
        String kind = main.path("type").asText();
        if (kind.equals("query") || kind.equals("procedure") || kind.equals("subscription")) {
          JsonNode input = main.path("input").get("schema");
          methods.add(new Method(id, kind, main.get("parameters"), input));
        }
      }
    }
    if (methods.isEmpty()) {
      throw new IOException("no lexicon methods under " + dir);
    }
  }

  /** The schema a {@code ref} names, relative to the document {@code from} ({@code #x} or {@code nsid#x}). */
  JsonNode resolve(String from, String ref) {
    String doc = ref.startsWith("#") ? from : (ref.contains("#") ? ref.substring(0, ref.indexOf('#')) : ref);
    String def = ref.contains("#") ? ref.substring(ref.indexOf('#') + 1) : "main";
    JsonNode d = docs.get(doc);
    return d == null ? null : d.path("defs").get(def);
  }
}
