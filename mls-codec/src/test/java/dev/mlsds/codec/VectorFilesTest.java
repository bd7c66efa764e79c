package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The copied mlswg vectors are the files their README names, byte for byte (unedited, as published). */
class VectorFilesTest {
    @Test
    void everyVectorFileMatchesTheChecksumInItsReadme() throws IOException, NoSuchAlgorithmException {
        String readme = new String(resource("README.md"), StandardCharsets.UTF_8);
        Map<String, String> listed = new LinkedHashMap<>();
        Matcher m = Pattern.compile("^\\| `([^`]+)` \\|.*\\| `([0-9a-f]{64})` \\|$", Pattern.MULTILINE).matcher(readme);
        while (m.find()) {
            listed.put(m.group(1), m.group(2));
        }
        assertThat(listed).as("files listed in mlswg/README.md").containsKeys(
            "crypto-basics.json", "deserialization.json", "messages.json", "passive-client-welcome.json", "welcome.json");
        for (Map.Entry<String, String> e : listed.entrySet()) {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(resource(e.getKey()));
            assertThat(HexFormat.of().formatHex(digest)).as("sha256 of " + e.getKey()).isEqualTo(e.getValue());
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = VectorFilesTest.class.getResourceAsStream("/mlswg/" + name)) {
            assertThat(in).as("/mlswg/" + name + " on the test classpath").isNotNull();
            return in.readAllBytes();
        }
    }
}
