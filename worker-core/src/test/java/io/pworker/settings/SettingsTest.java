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

    @Test
    void theHealthPortMustBeAPortNumber() throws Exception {
        for (String bad : new String[] {"99999", "-1", "80.5", "http"}) {
            assertThatThrownBy(() -> Settings.load(Map.of("HOME", "/nonexistent", "PREFECT_WORKER_WEBSERVER_PORT", bad)))
                    .isInstanceOf(SettingsException.class)
                    .hasMessage("PREFECT_WORKER_WEBSERVER_PORT must be a port number from 0 to 65535, got '" + bad + "'");
        }
        assertThat(Settings.from(Map.of("PREFECT_WORKER_WEBSERVER_PORT", "0")).webserverPort()).isZero();
        assertThat(Settings.from(Map.of("PREFECT_WORKER_WEBSERVER_PORT", "65535")).webserverPort()).isEqualTo(65535);
    }

    @Test
    void aCaBundleForAnHttpsApiMustExistAndHoldCertificates(@TempDir Path dir) throws Exception {
        Map<String, String> https = Map.of("HOME", "/nonexistent", "PREFECT_API_URL", "https://prefect.example/api",
                "PREFECT_API_SSL_CERT_FILE", "/nonexistent/ca.pem");
        assertThatThrownBy(() -> Settings.load(https)).isInstanceOf(SettingsException.class)
                .hasMessage("PREFECT_API_SSL_CERT_FILE names /nonexistent/ca.pem, which does not exist");
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_API_URL", "https://prefect.example/api",
                "PREFECT_API_SSL_CERT_FILE", garbage.toString())))
                .hasMessageStartingWith("PREFECT_API_SSL_CERT_FILE names " + garbage + ", which holds no");
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_API_URL", "https://prefect.example/api",
                "PREFECT_API_SSL_CERT_FILE", dir.toString())))
                .hasMessageContaining("is a directory");
        // not used for http:// (nor with verification off), so not refused there
        assertThat(Settings.from(Map.of("PREFECT_API_SSL_CERT_FILE", "/nonexistent/ca.pem")).sslCertFile())
                .isEqualTo(Path.of("/nonexistent/ca.pem"));
        assertThat(Settings.from(Map.of("PREFECT_API_URL", "https://prefect.example/api",
                "PREFECT_API_SSL_CERT_FILE", "/nonexistent/ca.pem", "PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "true"))
                .tlsInsecureSkipVerify()).isTrue();
    }

    @Test
    void loopIntervalsBelowOneSecondAreRaisedToItWithAWarning() throws Exception {
        Settings s = Settings.from(Map.of("PREFECT_WORKER_QUERY_SECONDS", "0", "PREFECT_WORKER_HEARTBEAT_SECONDS", "0.2",
                "PREFECT_WORKER_CANCELLATION_POLL_SECONDS", "0.5"));
        assertThat(s.querySeconds()).isEqualTo(Duration.ofSeconds(1));
        assertThat(s.heartbeatSeconds()).isEqualTo(Duration.ofSeconds(1));
        assertThat(s.cancellationPollSeconds()).isEqualTo(Duration.ofSeconds(1));
        assertThat(s.warnings()).containsExactlyInAnyOrder(
                "PREFECT_WORKER_QUERY_SECONDS=0 is below pworker's floor of 1 s; using 1 s",
                "PREFECT_WORKER_HEARTBEAT_SECONDS=0.2 is below pworker's floor of 1 s; using 1 s",
                "PREFECT_WORKER_CANCELLATION_POLL_SECONDS=0.5 is below pworker's floor of 1 s; using 1 s");
        Settings fine = Settings.from(Map.of("PREFECT_WORKER_QUERY_SECONDS", "1.5"));
        assertThat(fine.querySeconds()).isEqualTo(Duration.ofMillis(1500));
        assertThat(fine.warnings()).isEmpty();
    }

    @Test
    void negativeAndZeroValuesThatMeanNothingAreRefused() {
        assertThatThrownBy(() -> Settings.load(Map.of("HOME", "/nonexistent", "PREFECT_WORKER_PREFETCH_SECONDS", "-1")))
                .hasMessage("PREFECT_WORKER_PREFETCH_SECONDS must be a non-negative number, got '-1'");
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_API_REQUEST_TIMEOUT", "0")))
                .hasMessageContaining("PREFECT_API_REQUEST_TIMEOUT must be more than 0 seconds");
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_CLIENT_MAX_RETRIES", "-2")))
                .hasMessageContaining("PREFECT_CLIENT_MAX_RETRIES must be a whole number");
        assertThatThrownBy(() -> Settings.from(Map.of("PWORKER_KILL_GRACE_SECONDS", "-5")))
                .hasMessageContaining("PWORKER_KILL_GRACE_SECONDS");
    }

    @Test
    void theLoggingLevelTakesPrefectsNamesInAnyCase() throws Exception {
        assertThatThrownBy(() -> Settings.load(Map.of("HOME", "/nonexistent", "PREFECT_LOGGING_LEVEL", "LOUD")))
                .hasMessage("PREFECT_LOGGING_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (in any case), "
                        + "got 'LOUD'");
        // Python's own aliases are refused by Prefect too
        assertThatThrownBy(() -> Settings.from(Map.of("PREFECT_LOGGING_LEVEL", "WARN"))).isInstanceOf(SettingsException.class);
        assertThat(Settings.from(Map.of("PREFECT_LOGGING_LEVEL", "warning")).loggingLevel()).isEqualTo("WARNING");
        assertThat(Settings.from(Map.of("PREFECT_LOGGING_LEVEL", "Critical")).loggingLevel()).isEqualTo("CRITICAL");
        assertThat(Settings.from(Map.of()).loggingLevel()).isEqualTo("INFO");
    }

    @Test
    void pworkersOwnSettingsComeFromTheEnvironmentAndAreNotForwarded() throws Exception {
        Settings s = Settings.load(Map.of("HOME", "/nonexistent", "PWORKER_KILL_GRACE_SECONDS", "4",
                "PREFECT_API_KEY", "k", "OTHER", "x"));
        assertThat(s.killGracePeriod()).isEqualTo(Duration.ofSeconds(4));
        assertThat(s.explicit()).containsOnlyKeys("PREFECT_API_KEY");
    }

    @Test
    void theProfilesLoggingLevelCounts(@TempDir Path home) throws Exception {
        Files.writeString(home.resolve("profiles.toml"), """
                active = "quiet"
                [profiles.quiet]
                PREFECT_LOGGING_LEVEL = "error"
                """);
        assertThat(Settings.load(Map.of("PREFECT_HOME", home.toString())).loggingLevel()).isEqualTo("ERROR");
        assertThat(Settings.load(Map.of("PREFECT_HOME", home.toString(), "PREFECT_LOGGING_LEVEL", "debug")).loggingLevel())
                .isEqualTo("DEBUG");
    }
}
