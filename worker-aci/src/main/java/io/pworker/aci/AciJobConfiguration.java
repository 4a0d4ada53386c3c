package io.pworker.aci;

import static io.pworker.spi.JobConfigurationFields.bool;
import static io.pworker.spi.JobConfigurationFields.invalid;
import static io.pworker.spi.JobConfigurationFields.stringMap;
import static io.pworker.spi.JobConfigurationFields.strings;
import static io.pworker.spi.JobConfigurationFields.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.spi.ShellWords;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The azure-container-instance job configuration, checked: a value of the wrong shape is an error naming its key.
 * Defaults are prefect-azure's for keys a custom template leaves out.
 *
 * @param entrypoint    put before the command (null or blank: none)
 * @param imageRegistry null when the image needs no credentials
 * @param gpuCount      null for no GPU
 * @param armTemplate   the pool's ARM template as rendered, before {@link ArmTemplate#prepare}
 */
record AciJobConfiguration(
        String image,
        String resourceGroup,
        String subscriptionId,
        List<String> identities,
        String entrypoint,
        ImageRegistry imageRegistry,
        double cpu,
        Integer gpuCount,
        String gpuSku,
        double memory,
        List<String> subnetIds,
        List<String> dnsServers,
        AciCredentials credentials,
        boolean streamOutput,
        Duration startTimeout,
        Duration pollInterval,
        boolean keepContainerGroup,
        ObjectNode armTemplate,
        Map<String, String> env,
        List<String> command) {

    /** Image registry credentials: a user name and password, or an ACR pull through a managed identity. */
    sealed interface ImageRegistry {
        String server();
    }

    /** From a docker-registry-credentials block; {@link #toString()} hides the password. */
    record PasswordRegistry(String server, String username, String password) implements ImageRegistry {
        @Override
        public String toString() {
            return "PasswordRegistry[server=" + server + ", username=" + username + "]";
        }
    }

    record ManagedIdentityRegistry(String server, String identity) implements ImageRegistry {
    }

    static final String DEFAULT_ENTRYPOINT = "/opt/prefect/entrypoint.sh";

    static AciJobConfiguration from(ObjectNode c, String defaultImage) throws LaunchException {
        String image = text(c, "image");
        JsonNode template = c.get("arm_template");
        if (template == null || !template.isObject()) {
            throw invalid("arm_template", "an ARM deployment template (an object)", template);
        }
        return new AciJobConfiguration(
                image == null || image.isBlank() ? defaultImage : image,
                required(c, "resource_group_name"),
                required(c, "subscription_id"),
                strings(c, "identities"),
                c.has("entrypoint") ? text(c, "entrypoint") : DEFAULT_ENTRYPOINT,
                imageRegistry(c.get("image_registry")),
                number(c, "cpu", 1.0),
                integer(c, "gpu_count"),
                text(c, "gpu_sku"),
                number(c, "memory", 1.0),
                strings(c, "subnet_ids"),
                strings(c, "dns_servers"),
                credentials(c.get("aci_credentials")),
                bool(c, "stream_output", false),
                seconds(c, "task_start_timeout_seconds", 240),
                seconds(c, "task_watch_poll_interval", 5.0),
                bool(c, "keep_container_group", false),
                (ObjectNode) template.deepCopy(),
                stringMap(c, "env"),
                command(c));
    }

    private static String required(ObjectNode c, String key) throws LaunchException {
        String v = text(c, key);
        if (v == null || v.isBlank()) {
            throw new LaunchException("invalid job configuration '" + key + "': required, and not set in the work pool "
                    + "or the deployment");
        }
        return v.strip();
    }

    private static List<String> command(ObjectNode c) throws LaunchException {
        JsonNode cmd = c.get("command");
        if (cmd == null || cmd.isNull()) {
            return List.of("prefect", "flow-run", "execute");
        }
        if (cmd.isArray()) {
            return strings(c, "command");
        }
        if (!cmd.isTextual()) {
            throw invalid("command", "a string or a list of strings", cmd);
        }
        try {
            return ShellWords.split(cmd.asText());
        } catch (IllegalArgumentException e) {
            throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
        }
    }

    private static double number(ObjectNode c, String key, double unset) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return unset;
        }
        if (v.isNumber() && v.asDouble() > 0) {
            return v.asDouble();
        }
        if (v.isTextual()) {
            try {
                double d = Double.parseDouble(v.asText().strip());
                if (d > 0) {
                    return d;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw invalid(key, "a positive number", v);
    }

    private static Integer integer(ObjectNode c, String key) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.canConvertToExactIntegral() && v.asInt() >= 0) {
            return v.asInt();
        }
        throw invalid(key, "a whole number of at least 0", v);
    }

    private static Duration seconds(ObjectNode c, String key, double unset) throws LaunchException {
        return Duration.ofMillis(Math.round(number(c, key, unset) * 1000));
    }

    static ImageRegistry imageRegistry(JsonNode v) throws LaunchException {
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isObject()) {
            throw invalid("image_registry", "a docker-registry-credentials or ACR managed identity block", v);
        }
        String server = v.path("registry_url").asText("");
        if (server.isBlank()) {
            throw new LaunchException("invalid job configuration 'image_registry': 'registry_url' is required");
        }
        if (v.hasNonNull("identity")) {
            return new ManagedIdentityRegistry(server, v.get("identity").asText());
        }
        if (v.hasNonNull("username") && v.hasNonNull("password")) {
            return new PasswordRegistry(server, v.get("username").asText(), v.get("password").asText());
        }
        throw new LaunchException("invalid job configuration 'image_registry': give 'username' and 'password' "
                + "(docker-registry-credentials) or 'identity' (ACR managed identity)");
    }

    static AciCredentials credentials(JsonNode v) throws LaunchException {
        if (v == null || v.isNull()) {
            return AciCredentials.DEFAULT_CHAIN;
        }
        if (!v.isObject()) {
            throw invalid("aci_credentials", "an azure-container-instance-credentials block", v);
        }
        String id = blankToNull(v.path("client_id").asText(null));
        String tenant = blankToNull(v.path("tenant_id").asText(null));
        String secret = blankToNull(v.path("client_secret").asText(null));
        if (id == null && tenant == null && secret == null) {
            return AciCredentials.DEFAULT_CHAIN;
        }
        if (id == null || tenant == null || secret == null) {
            // never name the secret's value, only which fields are missing
            throw new LaunchException("invalid job configuration 'aci_credentials': give client_id, tenant_id and "
                    + "client_secret together, or none of them for the default Azure credential chain (missing: "
                    + String.join(", ", missing(id, tenant, secret)) + ")");
        }
        return new AciCredentials(id, tenant, secret);
    }

    private static List<String> missing(String id, String tenant, String secret) {
        java.util.ArrayList<String> out = new java.util.ArrayList<>();
        if (id == null) {
            out.add("client_id");
        }
        if (tenant == null) {
            out.add("tenant_id");
        }
        if (secret == null) {
            out.add("client_secret");
        }
        return out;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    @Override
    public String toString() {
        // env may hold PREFECT_API_KEY; the subscription id is a secret variable in the template
        return "AciJobConfiguration[image=" + image + ", resourceGroup=" + resourceGroup + "]";
    }
}
