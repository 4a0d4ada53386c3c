package io.pworker.docker;

import static io.pworker.spi.JobConfigurationFields.bool;
import static io.pworker.spi.JobConfigurationFields.stringMap;
import static io.pworker.spi.JobConfigurationFields.strings;
import static io.pworker.spi.JobConfigurationFields.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.spi.ShellWords;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The docker type's job configuration, checked: a value of the wrong shape is an error naming its key.
 *
 * @param memLimit     bytes, or null
 * @param memswapLimit bytes (-1 = unlimited swap), or null
 */
record DockerJobConfiguration(
        String image,
        String imagePullPolicy,
        List<String> command,
        Map<String, String> env,
        Map<String, String> labels,
        String name,
        List<String> networks,
        String networkMode,
        List<String> volumes,
        boolean streamOutput,
        boolean autoRemove,
        Long memLimit,
        Long memswapLimit,
        boolean privileged,
        RegistryCredentials registryCredentials,
        Map<String, JsonNode> containerCreateKwargs) {

    /** From a docker-registry-credentials block; {@link #toString()} hides the password. */
    record RegistryCredentials(String username, String password, String registryUrl) {
        @Override
        public String toString() {
            return "RegistryCredentials[username=" + username + ", registryUrl=" + registryUrl + "]";
        }
    }

    private static final Pattern MEMORY = Pattern.compile("(\\d+)\\s*([bkmg]?)b?", Pattern.CASE_INSENSITIVE);
    static final List<String> PULL_POLICIES = List.of("IfNotPresent", "Always", "IfPossible", "Never");

    static DockerJobConfiguration from(ObjectNode c, String defaultImage) throws LaunchException {
        String image = text(c, "image");
        String policy = text(c, "image_pull_policy");
        if (policy != null && !PULL_POLICIES.contains(policy)) {
            throw new LaunchException("invalid job configuration 'image_pull_policy': '" + policy + "' is not one of "
                    + PULL_POLICIES);
        }
        JsonNode cmd = c.get("command");
        List<String> command;
        if (cmd == null || cmd.isNull()) {
            command = List.of("prefect", "flow-run", "execute");
        } else if (cmd.isTextual()) {
            try {
                command = ShellWords.split(cmd.asText());
            } catch (IllegalArgumentException e) {
                throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
            }
        } else if (cmd.isArray()) {
            command = strings(c, "command");
        } else {
            throw new LaunchException("invalid job configuration 'command': expected a string or a list, got " + cmd);
        }
        String mode = text(c, "network_mode");
        return new DockerJobConfiguration(
                image == null || image.isBlank() ? defaultImage : image,
                policy,
                command,
                stringMap(c, "env"),
                stringMap(c, "labels"),
                text(c, "name"),
                strings(c, "networks"),
                mode == null || mode.isBlank() ? null : mode,
                strings(c, "volumes"),
                bool(c, "stream_output", true),
                bool(c, "auto_remove", false),
                memory(c, "mem_limit"),
                memory(c, "memswap_limit"),
                bool(c, "privileged", false),
                credentials(c.get("registry_credentials")),
                kwargs(c.get("container_create_kwargs")));
    }

    /** The pull policy Prefect applies when none is set: moving tags are pulled every time. */
    String effectivePullPolicy() {
        if (imagePullPolicy != null) {
            return imagePullPolicy;
        }
        ImageName parsed = ImageName.parse(image);
        if (parsed.digest() != null) {
            return "IfNotPresent";
        }
        return parsed.tag() == null || parsed.tag().equals("latest") ? "Always" : "IfNotPresent";
    }

    /** docker-py's memory strings: a number of bytes, or a number with a b/k/m/g suffix. */
    static Long memory(ObjectNode c, String key) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isBlank())) {
            return null;
        }
        if (v.isIntegralNumber()) {
            return v.asLong();
        }
        String s = v.asText().strip();
        if (s.equals("-1")) {
            return -1L;
        }
        Matcher m = MEMORY.matcher(s);
        if (!m.matches()) {
            throw new LaunchException("invalid job configuration '" + key + "': '" + s
                    + "' is not a memory size such as 100000b, 1000k, 128m or 1g");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> n * 1024;
            case "m" -> n * 1024 * 1024;
            case "g" -> n * 1024 * 1024 * 1024;
            default -> n;
        };
    }

    private static RegistryCredentials credentials(JsonNode v) throws LaunchException {
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isObject() || !v.path("username").isTextual() || !v.path("password").isTextual()) {
            throw new LaunchException("invalid job configuration 'registry_credentials': expected a "
                    + "docker-registry-credentials block with username, password and registry_url");
        }
        return new RegistryCredentials(v.get("username").asText(), v.get("password").asText(),
                v.path("registry_url").asText(null));
    }

    private static Map<String, JsonNode> kwargs(JsonNode v) throws LaunchException {
        if (v == null || v.isNull()) {
            return Map.of();
        }
        if (!v.isObject()) {
            throw new LaunchException("invalid job configuration 'container_create_kwargs': expected an object");
        }
        Map<String, JsonNode> out = new LinkedHashMap<>();
        v.properties().forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }
}
