package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Loads the MLS working group's interop vectors from {@code shared/test-vectors/mlswg}, found through
 * the {@code mlsds.shared} system property (set by the parent pom) or {@code ../../shared} and
 * {@code ../shared} relative to the working directory. Missing vectors fail the test, never skip it.
 */
final class Vectors {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Vectors() {
    }

    static Path dir() {
        List<Path> candidates = new ArrayList<>();
        String property = System.getProperty("mlsds.shared");
        if (property != null && !property.isBlank()) {
            candidates.add(Path.of(property));
        }
        candidates.add(Path.of("../../shared"));
        candidates.add(Path.of("../shared"));
        for (Path shared : candidates) {
            Path vectors = shared.resolve("test-vectors/mlswg");
            if (Files.isDirectory(vectors)) {
                return vectors;
            }
        }
        throw new AssertionError("MLS test vectors not found; tried " + candidates + " (set -Dmlsds.shared)");
    }

    static JsonNode load(String file) {
        try {
            JsonNode node = JSON.readTree(dir().resolve(file).toFile());
            assertThat(node.isArray()).as(file + " is a JSON array").isTrue();
            return node;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] hex(JsonNode node) {
        return HexFormat.of().parseHex(node.asText());
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
