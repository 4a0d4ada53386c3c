package io.pworker.cloudrun;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.auth.oauth2.GoogleCredentials;
import io.pworker.spi.LaunchException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Where a run's Google credentials come from: the job configuration's {@code credentials} (a resolved
 * {@code gcp-credentials} block: {@code service_account_info} or {@code service_account_file}, and
 * {@code project}), or Application Default Credentials when the block is absent or empty.
 *
 * <p>Reading the source is cheap and touches nothing; {@link #load} reads files and keys. The key material
 * never leaves this class in text: {@link #toString()} and every error message leave it out.
 *
 * @param info    the service account key's JSON, or null
 * @param file    the key file, or null
 * @param project the project named by the block, or null
 */
record GcpCredentials(JsonNode info, Path file, String project) {

    static final String CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> KEY_FIELDS = List.of("client_id", "client_email", "private_key", "private_key_id");

    static GcpCredentials from(JsonNode block) throws LaunchException {
        if (block == null || block.isNull()) {
            return new GcpCredentials(null, null, null);
        }
        if (!block.isObject()) {
            throw new LaunchException("invalid job configuration 'credentials': expected a gcp-credentials block "
                    + "(an object with service_account_info, service_account_file and project), got a " + block.getNodeType());
        }
        JsonNode info = block.get("service_account_info");
        if (info != null && info.isTextual()) {
            // the block also accepts the key file's text as one string
            try {
                info = info.asText().isBlank() ? null : JSON.readTree(info.asText());
            } catch (JsonProcessingException e) {
                throw new LaunchException("the gcp-credentials block's service_account_info is not valid JSON "
                        + "(line " + e.getLocation().getLineNr() + "); paste the whole key file");
            }
        }
        if (info != null && info.isNull()) {
            info = null;
        }
        if (info != null && (!info.isObject() || info.isEmpty())) {
            throw new LaunchException("the gcp-credentials block's service_account_info must be the key file's JSON object");
        }
        String file = text(block, "service_account_file");
        if (info != null && file != null) {
            throw new LaunchException("the gcp-credentials block sets both service_account_info and "
                    + "service_account_file; keep only one");
        }
        if (info != null) {
            List<String> missing = new ArrayList<>();
            for (String field : KEY_FIELDS) {
                if (!info.path(field).isTextual() || info.get(field).asText().isBlank()) {
                    missing.add(field);
                }
            }
            String type = info.path("type").asText("service_account");
            if (!type.equals("service_account")) {
                throw new LaunchException("the gcp-credentials block's service_account_info is a '" + type
                        + "' key; a service account key is needed (type service_account)");
            }
            if (!missing.isEmpty()) {
                throw new LaunchException("the gcp-credentials block's service_account_info lacks " + String.join(", ", missing)
                        + "; paste the whole service account key file");
            }
        }
        return new GcpCredentials(info, file == null ? null : expandHome(file), text(block, "project"));
    }

    /** True when nothing was configured and Application Default Credentials apply. */
    boolean applicationDefault() {
        return info == null && file == null;
    }

    /**
     * Identifies the credentials without holding them: clients are shared between runs with the same key.
     * A digest, so that the key never sits in a map key or a heap dump's strings.
     */
    String cacheKey() {
        if (info != null) {
            return "info:" + sha256(info.toString());
        }
        return file != null ? "file:" + file : "adc";
    }

    /**
     * The credentials themselves, scoped for Cloud Run.
     *
     * @param env the worker's environment (for {@code GOOGLE_APPLICATION_CREDENTIALS}, {@code HOME})
     */
    GoogleCredentials load(Map<String, String> env) throws LaunchException {
        GoogleCredentials credentials;
        if (info != null) {
            credentials = parse(info.toString().getBytes(StandardCharsets.UTF_8), "the gcp-credentials block's service_account_info");
        } else if (file != null) {
            credentials = parse(readKeyFile(file, "the gcp-credentials block's service_account_file"),
                    "service account file '" + file + "'");
        } else {
            credentials = applicationDefault(env);
        }
        return credentials.createScopedRequired() ? credentials.createScoped(List.of(CLOUD_PLATFORM_SCOPE)) : credentials;
    }

    /**
     * The project the credentials themselves point at (a service account key's {@code project_id}), else the
     * worker's {@code GOOGLE_CLOUD_PROJECT}; null when neither says.
     */
    static String defaultProject(GoogleCredentials credentials, Map<String, String> env) {
        if (credentials.getProjectId() != null && !credentials.getProjectId().isBlank()) {
            return credentials.getProjectId();
        }
        for (String key : List.of("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")) {
            String p = env.get(key);
            if (p != null && !p.isBlank()) {
                return p.strip();
            }
        }
        return null;
    }

    /** The block's project, else {@code fallback} (from {@link #defaultProject}). */
    String projectOr(String fallback) throws LaunchException {
        if (project != null) {
            return project;
        }
        if (fallback != null) {
            return fallback;
        }
        throw new LaunchException("no Google Cloud project: set 'project' in the gcp-credentials block, use a service "
                + "account key that has a project_id, or set GOOGLE_CLOUD_PROJECT for the worker");
    }

    private static GoogleCredentials applicationDefault(Map<String, String> env) throws LaunchException {
        String explicit = env.get("GOOGLE_APPLICATION_CREDENTIALS");
        if (explicit != null && !explicit.isBlank()) {
            Path path = expandHome(explicit.strip());
            return parse(readKeyFile(path, "GOOGLE_APPLICATION_CREDENTIALS"), "GOOGLE_APPLICATION_CREDENTIALS file '" + path + "'");
        }
        // gcloud's file, looked up in the worker's environment rather than the JVM's (tests and embedders pass their own)
        String config = env.get("CLOUDSDK_CONFIG");
        Path gcloud = config != null && !config.isBlank() ? Path.of(config, "application_default_credentials.json")
                : env.get("HOME") != null ? Path.of(env.get("HOME"), ".config", "gcloud", "application_default_credentials.json")
                : null;
        if (gcloud != null && Files.isRegularFile(gcloud)) {
            return parse(readKeyFile(gcloud, "gcloud's application default credentials"), "'" + gcloud + "'");
        }
        try {
            // the library's own last resort: the metadata server on Google's machines
            return GoogleCredentials.getApplicationDefault();
        } catch (IOException e) {
            throw new LaunchException("no Google credentials: the job configuration has no gcp-credentials block and "
                    + "Application Default Credentials were not found (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth "
                    + "application-default login, or the metadata server of a Google Cloud machine)");
        }
    }

    private static byte[] readKeyFile(Path path, String what) throws LaunchException {
        if (!Files.isRegularFile(path)) {
            throw new LaunchException(what + " '" + path + "' does not exist or is not a file");
        }
        try {
            return Files.readAllBytes(path);
        } catch (IOException e) {
            throw new LaunchException("cannot read " + what + " '" + path + "': " + e.getClass().getSimpleName());
        }
    }

    /** The library's own parser, for every key type it knows; its messages never quote the key, but we check. */
    private static GoogleCredentials parse(byte[] json, String what) throws LaunchException {
        try (InputStream in = new ByteArrayInputStream(json)) {
            return GoogleCredentials.fromStream(in);
        } catch (IOException | RuntimeException e) {
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (message.contains("PRIVATE KEY") || message.length() > 300) {
                message = "the key could not be parsed";
            }
            throw new LaunchException(what + " is not a usable Google credential: " + message);
        }
    }

    private static String text(JsonNode block, String key) throws LaunchException {
        JsonNode v = block.get(key);
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isBlank())) {
            return null;
        }
        if (!v.isTextual()) {
            throw new LaunchException("the gcp-credentials block's " + key + " must be a string, got a " + v.getNodeType());
        }
        return v.asText().strip();
    }

    private static Path expandHome(String path) {
        if (path.equals("~") || path.startsWith("~/")) {
            return Path.of(System.getProperty("user.home") + path.substring(1));
        }
        return Path.of(path);
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }

    @Override
    public String toString() {
        String email = info == null ? null : info.path("client_email").asText(null);
        return "GcpCredentials[" + (info != null ? "service_account_info for " + email
                : file != null ? "service_account_file " + file : "application default") + ", project=" + project + "]";
    }
}
