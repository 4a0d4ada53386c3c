package io.pworker.settings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Prefect settings as the worker sees them, resolved with Prefect's precedence: CLI flag (applied by the
 * caller) &gt; environment &gt; active profile in {@code $PREFECT_HOME/profiles.toml} &gt; default.
 *
 * <p>{@link #explicit()} keeps every {@code PREFECT_*} setting that was set in the environment or the profile:
 * Prefect forwards exactly those to flow-run infrastructure (worker-spec §2.6).
 */
public record Settings(
        URI apiUrl,
        String apiKey,
        String apiAuthString,
        Duration querySeconds,
        int prefetchSeconds,
        Duration heartbeatSeconds,
        String webserverHost,
        int webserverPort,
        boolean tlsInsecureSkipVerify,
        Path sslCertFile,
        Map<String, String> customHeaders,
        int maxRetries,
        Duration requestTimeout,
        String cloudApiUrl,
        boolean loggingToApiEnabled,
        Duration logBatchInterval,
        boolean csrfSupportEnabled,
        boolean serverVersionCheckEnabled,
        Duration cancellationPollSeconds,
        Duration killGracePeriod,
        String loggingLevel,
        Map<String, String> explicit) {

    public static final String DEFAULT_API_URL = "http://127.0.0.1:4200/api";

    public Settings {
        customHeaders = Map.copyOf(customHeaders);
        explicit = Map.copyOf(explicit);
    }

    /** True for Prefect Cloud, detected as Prefect does: the API URL starts with the Cloud API URL. */
    public boolean isCloud() {
        return apiUrl.toString().startsWith(cloudApiUrl);
    }

    public Optional<String> authorizationHeader() {
        if (apiAuthString != null && !apiAuthString.isEmpty()) {
            return Optional.of("Basic " + java.util.Base64.getEncoder()
                    .encodeToString(apiAuthString.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        }
        if (apiKey != null && !apiKey.isEmpty()) {
            return Optional.of("Bearer " + apiKey);
        }
        return Optional.empty();
    }

    public Settings withPrefetchSeconds(int seconds) {
        return new Settings(apiUrl, apiKey, apiAuthString, querySeconds, seconds, heartbeatSeconds, webserverHost,
                webserverPort, tlsInsecureSkipVerify, sslCertFile, customHeaders, maxRetries, requestTimeout,
                cloudApiUrl, loggingToApiEnabled, logBatchInterval, csrfSupportEnabled, serverVersionCheckEnabled,
                cancellationPollSeconds, killGracePeriod, loggingLevel, explicit);
    }

    /** Loads settings from an environment map (normally {@link System#getenv()}) and the active profile. */
    public static Settings load(Map<String, String> environment) throws SettingsException {
        Path home = Path.of(environment.getOrDefault("PREFECT_HOME",
                environment.getOrDefault("HOME", System.getProperty("user.home")) + "/.prefect"));
        Map<String, String> profile = ProfileFile.activeProfile(home.resolve("profiles.toml"),
                environment.get("PREFECT_PROFILE"));
        Map<String, String> merged = new TreeMap<>();
        profile.forEach((k, v) -> {
            if (k.startsWith("PREFECT_")) {
                merged.put(k, v);
            }
        });
        environment.forEach((k, v) -> {
            if (k.startsWith("PREFECT_") && !k.startsWith("PREFECT__")) {
                merged.put(k, v);
            }
        });
        return from(merged);
    }

    /** Builds settings from already merged {@code PREFECT_*} values; unset keys take Prefect's defaults. */
    public static Settings from(Map<String, String> values) throws SettingsException {
        Reader r = new Reader(values);
        String url = r.string("PREFECT_API_URL", DEFAULT_API_URL);
        URI apiUrl;
        try {
            apiUrl = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
            if (apiUrl.getScheme() == null || !(apiUrl.getScheme().equals("http") || apiUrl.getScheme().equals("https"))
                    || apiUrl.getHost() == null) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
        } catch (IllegalArgumentException e) {
            throw new SettingsException("PREFECT_API_URL '" + url + "' is not a valid http(s) URL: " + e.getMessage());
        }
        Map<String, String> explicit = new LinkedHashMap<>(values);
        return new Settings(
                apiUrl,
                r.string("PREFECT_API_KEY", null),
                r.string("PREFECT_API_AUTH_STRING", null),
                r.seconds("PREFECT_WORKER_QUERY_SECONDS", 10),
                (int) r.number("PREFECT_WORKER_PREFETCH_SECONDS", 10),
                r.seconds("PREFECT_WORKER_HEARTBEAT_SECONDS", 30),
                r.string("PREFECT_WORKER_WEBSERVER_HOST", "0.0.0.0"),
                (int) r.number("PREFECT_WORKER_WEBSERVER_PORT", 8080),
                r.bool("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", false),
                Optional.ofNullable(r.string("PREFECT_API_SSL_CERT_FILE", null)).map(Path::of).orElse(null),
                r.headers("PREFECT_CLIENT_CUSTOM_HEADERS"),
                (int) r.number("PREFECT_CLIENT_MAX_RETRIES", 5),
                r.seconds("PREFECT_API_REQUEST_TIMEOUT", 60),
                r.string("PREFECT_CLOUD_API_URL", "https://api.prefect.cloud/api"),
                r.bool("PREFECT_LOGGING_TO_API_ENABLED", true),
                r.seconds("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", 2),
                r.bool("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", true),
                r.bool("PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED", true),
                r.seconds("PREFECT_WORKER_CANCELLATION_POLL_SECONDS", 120),
                r.seconds("PWORKER_KILL_GRACE_SECONDS", 30),
                r.string("PREFECT_LOGGING_LEVEL", "INFO"),
                explicit);
    }

    private record Reader(Map<String, String> values) {

        String string(String key, String def) {
            String v = values.get(key);
            return v == null || v.isEmpty() ? def : v;
        }

        double number(String key, double def) throws SettingsException {
            String v = string(key, null);
            if (v == null) {
                return def;
            }
            try {
                double d = Double.parseDouble(v.strip());
                if (d < 0 || Double.isNaN(d) || Double.isInfinite(d)) {
                    throw new NumberFormatException();
                }
                return d;
            } catch (NumberFormatException e) {
                throw new SettingsException(key + " must be a non-negative number, got '" + v + "'");
            }
        }

        Duration seconds(String key, double def) throws SettingsException {
            return Duration.ofMillis(Math.round(number(key, def) * 1000));
        }

        boolean bool(String key, boolean def) throws SettingsException {
            String v = string(key, null);
            if (v == null) {
                return def;
            }
            return switch (v.strip().toLowerCase(java.util.Locale.ROOT)) {
                case "1", "true", "yes", "on", "t", "y" -> true;
                case "0", "false", "no", "off", "f", "n" -> false;
                default -> throw new SettingsException(key + " must be true or false, got '" + v + "'");
            };
        }

        Map<String, String> headers(String key) throws SettingsException {
            String v = string(key, null);
            if (v == null) {
                return Map.of();
            }
            try {
                JsonNode node = new ObjectMapper().readTree(v);
                if (node == null || !node.isObject()) {
                    throw new SettingsException(key + " must be a JSON object of header names to values");
                }
                Map<String, String> out = new LinkedHashMap<>();
                for (var e : node.properties()) {
                    out.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString());
                }
                return out;
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new SettingsException(key + " is not valid JSON: " + e.getOriginalMessage());
            }
        }
    }
}
