package dev.mlsds.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import dev.mlsds.server.xrpc.Json;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The operator files under {@code deploy/}: the Grafana dashboard and the Prometheus alert rules name only
 * metrics a running server exports; the environment file example is a valid prod configuration made of
 * real settings; the systemd unit keeps its hardening.
 */
class DeployFilesTest {
  static final Path ROOT = repositoryRoot();
  static final Path DASHBOARD = ROOT.resolve("deploy/grafana/mlsds-dashboard.json");
  static final Path ALERTS = ROOT.resolve("deploy/prometheus/mlsds-alerts.yml");
  static final Path UNIT = ROOT.resolve("deploy/systemd/mlsds.service");
  static final Path ENV = ROOT.resolve("deploy/systemd/mlsds.env.example");
  /** A series name written right before its label matchers: {@code name{…}}. */
  static final Pattern SELECTOR = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{");
  /** Series Prometheus makes itself, not the server. */
  static final Set<String> PROMETHEUS_OWN = Set.of("up");
  static final List<String> SUFFIXES = List.of("_bucket", "_count", "_sum", "_max", "_total", "_created");

  @Test
  void everyMetricTheDashboardAndTheAlertsNameIsExportedByARunningServer() throws Exception {
    Set<String> named = new TreeSet<>();
    JsonNode dashboard = Json.MAPPER.readTree(DASHBOARD.toFile());
    List<String> exprs = new ArrayList<>();
    for (JsonNode panel : dashboard.get("panels")) {
      for (JsonNode target : panel.path("targets")) {
        exprs.add(target.get("expr").asText());
      }
    }
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      if (variable.path("type").asText().equals("query")) {
        exprs.add(variable.get("query").asText());
      }
    }
    assertThat(exprs).as("dashboard queries").hasSizeGreaterThan(15);
    exprs.add(Files.readString(ALERTS));
    for (String expr : exprs) {
      Matcher m = SELECTOR.matcher(expr);
      while (m.find()) {
        named.add(m.group(1));
      }
    }
    // Queries like label_values(metric, label) name a metric without a selector.
    Matcher lv = Pattern.compile("label_values\\(([a-zA-Z_:][a-zA-Z0-9_:]*)").matcher(String.join("\n", exprs));
    while (lv.find()) {
      named.add(lv.group(1));
    }
    named.removeAll(PROMETHEUS_OWN);
    assertThat(named).as("metrics named").contains("http_server_requests_seconds_count", "mlsds_commit_conflicts_total",
        "mlsds_keypackages_claims_total", "mlsds_welcome_retrievals_total", "mlsds_realtime_streams_active",
        "hikaricp_connections_pending");

    String scrape = scrapeAfterTraffic();
    Set<String> series = new TreeSet<>();
    Set<String> types = new TreeSet<>();
    for (String line : scrape.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        types.add(line.split(" ")[2]);
      } else if (!line.isBlank() && !line.startsWith("#")) {
        series.add(line.split("[{ ]", 2)[0]);
      }
    }
    assertThat(exported("mlsds_no_such_meter_total", series, types)).as("the check can fail").isFalse();
    List<String> missing = new ArrayList<>();
    for (String name : named) {
      if (!exported(name, series, types)) {
        missing.add(name);
      }
    }
    assertThat(missing).as("metrics named in deploy/ but not in /metrics").isEmpty();
  }

  /** Exported as is, or as the same meter with or without a histogram/counter suffix. */
  static boolean exported(String name, Set<String> series, Set<String> types) {
    if (series.contains(name) || types.contains(name)) {
      return true;
    }
    for (String suffix : SUFFIXES) {
      if (series.contains(name + suffix)) {
        return true;
      }
      if (name.endsWith(suffix)) {
        String base = name.substring(0, name.length() - suffix.length());
        if (types.contains(base) || series.contains(base)) {
          return true;
        }
      }
    }
    return false;
  }

  private static String scrapeAfterTraffic() {
    Server server = TestServers.start(TestDatabases.sqlite());
    try {
      TestUser alice = TestUser.on(server);
      TestUser bob = TestUser.on(server);
      var device = bob.device();
      assertThat(bob.post("publishKeyPackages", Map.of("keyPackages",
          List.of(Map.of("keyPackage", TestUser.bytes(device.keyPackage())))))).extracting(Http.Response::status).isEqualTo(200);
      assertThat(alice.get("getKeyPackages", "dids", bob.did().value()).status()).isEqualTo(200);
      assertThat(alice.get("getConvos").status()).isEqualTo(200);
      assertThat(alice.get("getEpoch", "convoId", "00ff").status()).isEqualTo(404);
      Http.Response metrics = new Http(server.port()).get("/metrics", null);
      assertThat(metrics.status()).isEqualTo(200);
      return metrics.body();
    } finally {
      server.stop();
    }
  }

  @Test
  void theEnvironmentExampleIsAValidProdConfigurationOfRealSettings() throws IOException {
    Map<String, String> options = new LinkedHashMap<>();   // MLSDS_X -> --x
    for (Field f : Main.Settings.class.getDeclaredFields()) {
      CommandLine.Option o = f.getAnnotation(CommandLine.Option.class);
      Matcher m = Pattern.compile("\\$\\{env:(MLSDS_[A-Z_]+)").matcher(o == null ? "" : o.defaultValue());
      if (m.find()) {
        options.put(m.group(1), o.names()[0]);
      }
    }
    assertThat(options).containsKeys("MLSDS_PROFILE", "MLSDS_DATABASE_URL", "MLSDS_SERVICE_DID");
    List<String> args = new ArrayList<>();
    Map<String, String> env = new LinkedHashMap<>();
    for (String line : Files.readAllLines(ENV, StandardCharsets.UTF_8)) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      assertThat(eq).as(line).isPositive();
      String key = line.substring(0, eq);
      String value = line.substring(eq + 1);
      env.put(key, value);
      if (key.equals("MLSDS_JAVA_OPTS")) {
        continue;   // read by the launcher and the unit, not by the server
      }
      assertThat(options).as("a setting the server reads").containsKey(key);
      args.add(options.get(key) + "=" + value);
    }
    assertThat(env).containsEntry("MLSDS_PROFILE", "prod").containsKeys("MLSDS_SERVICE_DID", "MLSDS_DATABASE_URL",
        "MLSDS_METRICS_TOKEN");
    Main.Settings settings = new Main.Settings();
    new CommandLine(settings).parseArgs(args.toArray(String[]::new));
    Config config = settings.toConfig();   // throws with the reason if prod would refuse to start
    assertThat(config.profile()).isEqualTo(Config.Profile.PROD);
  }

  @Test
  void theSystemdUnitIsHardenedAndRunsTheServer() throws Exception {
    String unit = Files.readString(UNIT).replace("\\\n", " ");
    Map<String, String> keys = new LinkedHashMap<>();
    for (String line : unit.split("\n")) {
      int eq = line.indexOf('=');
      if (!line.startsWith("#") && eq > 0) {
        keys.merge(line.substring(0, eq).trim(), line.substring(eq + 1).trim(), (a, b) -> a + "\n" + b);
      }
    }
    assertThat(keys).containsEntry("DynamicUser", "yes").containsEntry("ProtectSystem", "strict")
        .containsEntry("StateDirectory", "mlsds").containsEntry("NoNewPrivileges", "yes")
        .containsEntry("ProtectHome", "yes").containsEntry("PrivateTmp", "yes").containsEntry("CapabilityBoundingSet", "")
        .containsEntry("EnvironmentFile", "/etc/mlsds/mlsds.env").containsEntry("Environment", "MLSDS_DATA_DIR=/var/lib/mlsds");
    assertThat(keys).as("the JIT writes code: W^X would kill the JVM").doesNotContainKey("MemoryDenyWriteExecute");
    String exec = keys.get("ExecStart").replaceAll("\\s+", " ");
    assertThat(exec).endsWith("-jar /opt/mlsds/mlsds.jar serve").contains("$MLSDS_JAVA_OPTS")
        .as("flags every JDK >= 21 knows").doesNotContain("aot");
    // systemd's own check, where systemd is installed: unknown keys and bad values are warnings on stderr.
    if (Files.isExecutable(Path.of("/usr/bin/systemd-analyze"))) {
      Process p = new ProcessBuilder("/usr/bin/systemd-analyze", "verify", UNIT.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(out.lines().filter(l -> l.contains(UNIT.getFileName().toString())).toList())
          .as("systemd-analyze verify").isEmpty();
    }
  }

  static Path repositoryRoot() {
    for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("deploy")) && Files.isRegularFile(p.resolve("mlsds"))) {
        return p;
      }
    }
    throw new IllegalStateException("no repository root with deploy/ above " + System.getProperty("user.dir"));
  }
}
