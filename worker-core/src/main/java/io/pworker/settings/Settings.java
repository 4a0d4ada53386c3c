package io.pworker.settings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Prefect settings as the worker sees them, resolved with Prefect's precedence: CLI flag (applied by the
 * caller) &gt; environment &gt; active profile in {@code $PREFECT_HOME/profiles.toml} &gt; default. pworker's own
 * {@code PWORKER_*} settings come from the environment only (Prefect's profiles are Prefect's).
 *
 * <p>Values are checked here, once, so that a bad one stops the start with one line naming the setting rather
 * than failing later somewhere deep in the worker. Loop intervals below {@link #MIN_INTERVAL} are raised to it
 * and reported in {@link #warnings()}, for the caller to log once.
 *
 * <p>{@link #explicit()} keeps every {@code PREFECT_*} setting that was set in the environment or the profile:
 * Prefect forwards exactly those to flow-run infrastructure (worker-spec §2.6). {@link #own()} keeps the
 * {@code PWORKER_*} settings given, which are never forwarded.
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
        Map<String, String> explicit,
        Map<String, String> own,
        List<String> warnings) {

    public static final String DEFAULT_API_URL = "http://127.0.0.1:4200/api";
    /**
     * The shortest poll, heartbeat and cancellation-poll interval. Prefect takes any number, and 0 makes its
     * worker (and ours) query the API in a tight loop; a second keeps a run's pick-up latency low at a load any
     * server bears.
     */
    public static final Duration MIN_INTERVAL = Duration.ofSeconds(1);
    /** Prefect's names for {@code PREFECT_LOGGING_LEVEL}; Prefect accepts them in any case and nothing else. */
    public static final List<String> LOGGING_LEVELS = List.of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL");

    public Settings {
        customHeaders = Map.copyOf(customHeaders);
        explicit = Map.copyOf(explicit);
        own = Map.copyOf(own);
        warnings = List.copyOf(warnings);
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
                cancellationPollSeconds, killGracePeriod, loggingLevel, explicit, own, warnings);
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
            if ((k.startsWith("PREFECT_") && !k.startsWith("PREFECT__")) || k.startsWith("PWORKER_")) {
                merged.put(k, v);
            }
        });
        return from(merged);
    }

    /**
     * Builds settings from already merged {@code PREFECT_*} and {@code PWORKER_*} values; unset keys take the
     * defaults.
     */
    public static Settings from(Map<String, String> values) throws SettingsException {
        List<String> warnings = new ArrayList<>();
        Reader r = new Reader(values, warnings);
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
        Map<String, String> explicit = new LinkedHashMap<>();
        Map<String, String> own = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("PREFECT_")) {
                explicit.put(k, v);
            } else if (k.startsWith("PWORKER_")) {
                own.put(k, v);
            }
        });
        boolean insecure = r.bool("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", false);
        Path certFile = r.path("PREFECT_API_SSL_CERT_FILE");
        if (certFile != null && "https".equals(apiUrl.getScheme()) && !insecure) {
            CertificateFile.check("PREFECT_API_SSL_CERT_FILE", certFile);
        }
        Duration requestTimeout = r.seconds("PREFECT_API_REQUEST_TIMEOUT", 60);
        if (requestTimeout.isZero()) {
            throw new SettingsException("PREFECT_API_REQUEST_TIMEOUT must be more than 0 seconds, got '"
                    + values.get("PREFECT_API_REQUEST_TIMEOUT") + "'");
        }
        return new Settings(
                apiUrl,
                r.string("PREFECT_API_KEY", null),
                r.string("PREFECT_API_AUTH_STRING", null),
                r.interval("PREFECT_WORKER_QUERY_SECONDS", 10),
                (int) r.number("PREFECT_WORKER_PREFETCH_SECONDS", 10),
                r.interval("PREFECT_WORKER_HEARTBEAT_SECONDS", 30),
                r.string("PREFECT_WORKER_WEBSERVER_HOST", "0.0.0.0"),
                r.integer("PREFECT_WORKER_WEBSERVER_PORT", 8080, 0, 65535, "a port number from 0 to 65535"),
                insecure,
                certFile,
                r.headers("PREFECT_CLIENT_CUSTOM_HEADERS"),
                r.integer("PREFECT_CLIENT_MAX_RETRIES", 5, 0, 1000, "a whole number from 0 to 1000"),
                requestTimeout,
                r.string("PREFECT_CLOUD_API_URL", "https://api.prefect.cloud/api"),
                r.bool("PREFECT_LOGGING_TO_API_ENABLED", true),
                r.seconds("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", 2),
                r.bool("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", true),
                r.bool("PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED", true),
                r.interval("PREFECT_WORKER_CANCELLATION_POLL_SECONDS", 120),
                r.seconds("PWORKER_KILL_GRACE_SECONDS", 30),
                r.loggingLevel("PREFECT_LOGGING_LEVEL"),
                explicit,
                own,
                warnings);
    }

    private record Reader(Map<String, String> values, List<String> warnings) {

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

        /** A loop interval, raised to {@link #MIN_INTERVAL} with a warning when set lower. */
        Duration interval(String key, double def) throws SettingsException {
            Duration d = seconds(key, def);
            if (d.compareTo(MIN_INTERVAL) < 0) {
                warnings.add(key + "=" + values.get(key).strip() + " is below pworker's floor of "
                        + MIN_INTERVAL.toSeconds() + " s; using " + MIN_INTERVAL.toSeconds() + " s");
                return MIN_INTERVAL;
            }
            return d;
        }

        int integer(String key, int def, int min, int max, String what) throws SettingsException {
            String v = string(key, null);
            if (v == null) {
                return def;
            }
            try {
                int i = Integer.parseInt(v.strip());
                if (i < min || i > max) {
                    throw new NumberFormatException();
                }
                return i;
            } catch (NumberFormatException e) {
                throw new SettingsException(key + " must be " + what + ", got '" + v + "'");
            }
        }

        Path path(String key) throws SettingsException {
            String v = string(key, null);
            if (v == null) {
                return null;
            }
            try {
                return Path.of(v);
            } catch (java.nio.file.InvalidPathException e) {
                throw new SettingsException(key + " is not a usable file name: '" + v + "'");
            }
        }

        String loggingLevel(String key) throws SettingsException {
            String v = string(key, null);
            if (v == null) {
                return "INFO";
            }
            String upper = v.strip().toUpperCase(java.util.Locale.ROOT);
            if (!LOGGING_LEVELS.contains(upper)) {
                throw new SettingsException(key + " must be one of " + String.join(", ", LOGGING_LEVELS)
                        + " (in any case), got '" + v + "'");
            }
            return upper;
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
