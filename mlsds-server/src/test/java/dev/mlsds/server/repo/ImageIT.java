package dev.mlsds.server.repo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.xrpc.Json;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/**
 * The container image tarball that {@code -Pimage} builds with Jib (no Docker daemon): a docker-load
 * archive whose entrypoint starts the server's main class with {@code serve}, as a non-root user, with the
 * data folder a volume it can write, listening on all interfaces of the container. What runs the image
 * (the base image's {@code java}) is the base's business; this checks everything this project configures.
 * Runs only with {@code -Pimage} (see mlsds-server/pom.xml).
 */
class ImageIT {
  record Entry(String name, int mode, byte[] data) {}

  @Test
  void theImageTarballStartsTheServerAsANonRootUserWithDataOnAVolume() throws IOException {
    Path tar = Path.of(System.getProperty("mlsds.image.tar", "target/mlsds-image.tar"));
    assertThat(tar).as("built by mvn -Pimage package").isRegularFile();
    Map<String, Entry> outer = read(Files.newInputStream(tar));
    JsonNode manifest = Json.MAPPER.readTree(outer.get("manifest.json").data()).get(0);
    assertThat(manifest.get("RepoTags").get(0).asText()).startsWith("mlsds:");
    JsonNode config = Json.MAPPER.readTree(outer.get(manifest.get("Config").asText()).data()).get("config");

    List<String> entrypoint = new ArrayList<>();
    config.get("Entrypoint").forEach(e -> entrypoint.add(e.asText()));
    assertThat(entrypoint.get(0)).isEqualTo("java");
    assertThat(entrypoint).contains("dev.mlsds.server.Main", "-Dorg.sqlite.tmpdir=/data", "-XX:-UsePerfData");
    assertThat(config.get("Cmd")).extracting(JsonNode::asText).containsExactly("serve");

    String user = config.get("User").asText();
    assertThat(user).as("a numeric uid:gid, so no passwd entry is needed").matches("\\d+:\\d+");
    assertThat(Integer.parseInt(user.split(":")[0])).as("uid").isNotZero();
    assertThat(config.get("Volumes").has("/data")).isTrue();
    assertThat(config.get("WorkingDir").asText()).isEqualTo("/data");
    assertThat(config.get("ExposedPorts").has("8080/tcp")).isTrue();
    List<String> env = new ArrayList<>();
    config.get("Env").forEach(e -> env.add(e.asText()));
    assertThat(env).contains("MLSDS_BIND=0.0.0.0", "MLSDS_PORT=8080", "MLSDS_DATA_DIR=/data");

    Map<String, Entry> files = new LinkedHashMap<>();
    for (JsonNode layer : manifest.get("Layers")) {
      files.putAll(read(new GZIPInputStream(new ByteArrayInputStream(outer.get(layer.asText()).data()))));
    }
    assertThat(files).containsKeys("app/classes/dev/mlsds/server/Main.class", "app/jib-classpath-file",
        "app/resources/db/migration/sqlite/V1__idempotency.sql");
    String classpath = new String(files.get("app/jib-classpath-file").data(), StandardCharsets.UTF_8);
    assertThat(classpath).contains("/app/classes").contains("/app/libs/mls-codec-").contains("/app/libs/sqlite-jdbc-")
        .contains("/app/libs/postgresql-");
    for (String lib : classpath.strip().split(":")) {
      if (lib.startsWith("/app/libs/")) {
        assertThat(files).as("on the classpath and in the image").containsKey(lib.substring(1));
      }
    }
    Entry data = files.get("data/");
    assertThat(data).as("the data folder exists in the image, so a new volume inherits its mode").isNotNull();
    assertThat(data.mode() & 0070).as("group (the user's gid 0) may write /data").isEqualTo(0070);
    assertThat(user).endsWith(":0");
  }

  /** A minimal ustar/pax reader: regular files and folders by name (pax headers are skipped). */
  static Map<String, Entry> read(InputStream raw) throws IOException {
    Map<String, Entry> out = new LinkedHashMap<>();
    try (InputStream in = raw) {
      byte[] header = new byte[512];
      String paxPath = null;
      while (in.readNBytes(header, 0, 512) == 512) {
        if (header[0] == 0) {
          break;
        }
        String name = field(header, 0, 100);
        String prefix = field(header, 345, 155);
        int mode = (int) octal(header, 100, 8);
        long size = octal(header, 124, 12);
        char type = (char) header[156];
        byte[] data = in.readNBytes((int) size);
        in.skipNBytes((512 - size % 512) % 512);
        if (type == 'x') {
          for (String record : new String(data, StandardCharsets.UTF_8).split("\n")) {
            int eq = record.indexOf(" path=");
            if (eq >= 0) {
              paxPath = record.substring(eq + " path=".length());
            }
          }
          continue;
        }
        if (type == 'g') {
          continue;
        }
        String full = paxPath != null ? paxPath : prefix.isEmpty() ? name : prefix + "/" + name;
        paxPath = null;
        out.put(full.startsWith("./") ? full.substring(2) : full, new Entry(full, mode, data));
      }
    }
    return out;
  }

  private static String field(byte[] h, int off, int len) {
    int end = off;
    while (end < off + len && h[end] != 0) {
      end++;
    }
    return new String(h, off, end - off, StandardCharsets.UTF_8);
  }

  private static long octal(byte[] h, int off, int len) {
    String s = field(h, off, len).trim();
    return s.isEmpty() ? 0 : Long.parseLong(s, 8);
  }
}
