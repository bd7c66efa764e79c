package dev.mlsds.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigTest {
  static Config prod(String did, String url, boolean didKey, String bind, String metricsToken) {
    return new Config(Config.Profile.PROD, bind, 8080, Path.of("data"), url, did, didKey,
        "https://plc.directory", List.of(), metricsToken, Config.Limits.defaults());
  }

  @Test
  void devDefaultsAreValidAndUseSqliteInDataDir() {
    Config c = Config.devDefaults().validate();
    assertThat(c.effectiveDatabaseUrl()).isEqualTo("jdbc:sqlite:" + Path.of("data").resolve("mlsds.db"));
    assertThat(c.usesPostgres()).isFalse();
    assertThat(c.allowDidKey()).isTrue();
  }

  @Test
  void prodRefusesWithoutServiceDidOrPostgres() {
    assertThatThrownBy(() -> prod(null, "jdbc:postgresql://db/mlsds", false, "127.0.0.1", null).validate())
        .hasMessageContaining("MLSDS_SERVICE_DID");
    assertThatThrownBy(() -> prod("did:web:mls.example.com", null, false, "127.0.0.1", null).validate())
        .hasMessageContaining("MLSDS_DATABASE_URL");
  }

  @Test
  void prodRefusesInsecureSettings() {
    assertThatThrownBy(() -> prod("did:web:mls.example.com", "jdbc:postgresql://db/mlsds", true, "127.0.0.1", null).validate())
        .hasMessageContaining("did:key");
    assertThatThrownBy(() -> prod("did:web:mls.example.com", "jdbc:postgresql://db/mlsds", false, "0.0.0.0", null).validate())
        .hasMessageContaining("MLSDS_METRICS_TOKEN");
  }

  @Test
  void prodAcceptsASecureConfiguration() {
    Config c = prod("did:web:mls.example.com", "jdbc:postgresql://db/mlsds", false, "0.0.0.0", "s3cret").validate();
    assertThat(c.usesPostgres()).isTrue();
  }

  @Test
  void unknownDatabaseUrlIsRefused() {
    Config d = Config.devDefaults();
    assertThatThrownBy(() -> new Config(d.profile(), d.bind(), 8080, d.dataDir(), "jdbc:mysql://x", d.serviceDid(),
        true, d.plcUrl(), List.of(), null, d.limits()).validate()).hasMessageContaining("jdbc:postgresql");
  }

  @Test
  void delegatingIssuersAreEmptyByDefaultAndMustBeDids() {
    assertThat(Config.devDefaults().delegatingIssuers()).isEmpty();
    Config c = Config.devDefaults().withDelegatingIssuers(List.of("did:web:gateway.example.com")).validate();
    assertThat(c.delegatingIssuers()).containsExactly("did:web:gateway.example.com");
    assertThatThrownBy(() -> Config.devDefaults().withDelegatingIssuers(List.of("gateway.example.com")).validate())
        .hasMessageContaining("MLSDS_DELEGATING_ISSUERS");
  }
}
