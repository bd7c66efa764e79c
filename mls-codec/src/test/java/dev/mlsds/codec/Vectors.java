package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HexFormat;

/**
 * Loads the MLS working group's interop vectors, copied unedited into the test resources
 * ({@code mls-codec/src/test/resources/mlswg/}; their README names the source commit and checksums).
 * A missing file fails the test, never skips it.
 */
final class Vectors {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Vectors() {
    }

    static JsonNode load(String file) {
        try (InputStream in = Vectors.class.getResourceAsStream("/mlswg/" + file)) {
            if (in == null) {
                throw new AssertionError("MLS test vector /mlswg/" + file + " not on the test classpath");
            }
            JsonNode node = JSON.readTree(in);
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
