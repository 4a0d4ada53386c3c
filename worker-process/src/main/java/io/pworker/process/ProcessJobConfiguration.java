package io.pworker.process;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import java.util.LinkedHashMap;
import java.util.Map;

/** The process type's job configuration, checked: a wrong type is an error naming the key. */
record ProcessJobConfiguration(String command, Map<String, String> env, String workingDir, boolean streamOutput,
        String name) {

    static ProcessJobConfiguration from(ObjectNode config) throws LaunchException {
        String command = text(config, "command", "prefect flow-run execute");
        JsonNode envNode = config.get("env");
        Map<String, String> env = new LinkedHashMap<>();
        if (envNode != null && !envNode.isNull()) {
            if (!envNode.isObject()) {
                throw new LaunchException("invalid job configuration 'env': expected an object, got " + envNode.getNodeType());
            }
            envNode.properties().forEach(e -> {
                if (!e.getValue().isNull()) {
                    env.put(e.getKey(), e.getValue().asText());
                }
            });
        }
        String workingDir = text(config, "working_dir", null);
        JsonNode stream = config.get("stream_output");
        boolean streamOutput = true;
        if (stream != null && !stream.isNull()) {
            if (!stream.isBoolean()) {
                throw new LaunchException("invalid job configuration 'stream_output': expected true or false, got " + stream);
            }
            streamOutput = stream.asBoolean();
        }
        return new ProcessJobConfiguration(command, Map.copyOf(env), workingDir, streamOutput,
                text(config, "name", "flow-run"));
    }

    private static String text(ObjectNode config, String key, String def) throws LaunchException {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isTextual()) {
            throw new LaunchException("invalid job configuration '" + key + "': expected a string, got " + v);
        }
        return v.asText().isBlank() ? def : v.asText();
    }
}
