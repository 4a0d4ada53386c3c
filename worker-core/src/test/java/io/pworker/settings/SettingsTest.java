package io.pworker.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(10)
class SettingsTest {

    @Test
    void defaultsAreTheOnesOfPrefectsCode() throws Exception {
        Settings s = Settings.load(Map.of("HOME", "/nonexistent"));
        assertThat(s.apiUrl().toString()).isEqualTo("http://127.0.0.1:4200/api");
        assertThat(s.querySeconds()).isEqualTo(Duration.ofSeconds(10));
        assertThat(s.prefetchSeconds()).isEqualTo(10);
        assertThat(s.heartbeatSeconds()).isEqualTo(Duration.ofSeconds(30));
        assertThat(s.webserverHost()).isEqualTo("0.0.0.0");
        assertThat(s.webserverPort()).isEqualTo(8080);
        assertThat(s.maxRetries()).isEqualTo(5);
        assertThat(s.authorizationHeader()).isEmpty();
        assertThat(s.explicit()).isEmpty();
    }

    @Test
    void environmentBeatsTheActiveProfile(@TempDir Path home) throws Exception {
        Files.writeString(home.resolve("profiles.toml"), """
                active = "dev"   # the one in use

                [profiles.default]
                PREFECT_API_URL = "http://default:4200/api"

                [profiles.dev]
                PREFECT_API_URL = "http://dev-server:4200/api/"
                PREFECT_API_KEY = 'pnu_profile'
                PREFECT_WORKER_QUERY_SECONDS = 3
                PREFECT_CLIENT_CUSTOM_HEADERS = '{"X-Team": "data"}'
                """);
        Settings s = Settings.load(Map.of("PREFECT_HOME", home.toString(), "PREFECT_WORKER_QUERY_SECONDS", "7"));
        assertThat(s.apiUrl().toString()).isEqualTo("http://dev-server:4200/api");
        assertThat(s.querySeconds()).isEqualTo(Duration.ofSeconds(7));
        assertThat(s.authorizationHeader()).contains("Bearer pnu_profile");
        assertThat(s.customHeaders()).containsEntry("X-Team", "data");
        assertThat(s.explicit()).containsEntry("PREFECT_API_KEY", "pnu_profile").containsEntry("PREFECT_WORKER_QUERY_SECONDS", "7");

        Settings other = Settings.load(Map.of("PREFECT_HOME", home.toString(), "PREFECT_PROFILE", "default"));
        assertThat(other.apiUrl().toString()).isEqualTo("http://default:4200/api");
    }

    @Test
    void authStringWinsOverTheKey() throws Exception {
        Settings s = Settings.from(Map.of("PREFECT_API_KEY", "k", "PREFECT_API_AUTH_STRING", "admin:pass"));
        assertThat(s.authorizationHeader()).contains("Basic YWRtaW46cGFzcw==");
    }

    @Test
    void badValuesNameTheSetting(@TempDir Path home) throws Exception {
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_WORKER_QUERY_SECONDS", "soon")))
                .hasMessageContaining("PREFECT_WORKER_QUERY_SECONDS");
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_API_URL", "localhost:4200")))
                .hasMessageContaining("PREFECT_API_URL");
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_CLIENT_CUSTOM_HEADERS", "[1]")))
                .hasMessageContaining("PREFECT_CLIENT_CUSTOM_HEADERS");
        Files.writeString(home.resolve("profiles.toml"), "[profiles.x\n");
        assertThatThrownBy(() -> Settings.load(Map.of("PREFECT_HOME", home.toString())))
                .hasMessageContaining("line 1");
    }

    @Test
    void cloudIsDetectedByUrl() throws Exception {
        assertThat(Settings.from(Map.of("PREFECT_API_URL",
                "https://api.prefect.cloud/api/accounts/a/workspaces/w")).isCloud()).isTrue();
        assertThat(Settings.from(Map.of()).isCloud()).isFalse();
    }
}
