package io.pworker.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Prefect's own default base job templates (copies of ../shared/prefect) and the structural comparison a
 * plugin's default template must pass: same variables with the same types, defaults and constraints, and the
 * same job configuration. Descriptions, titles and examples are prose and may differ.
 */
public final class PrefectTemplates {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PrefectTemplates() {
    }

    /** The default base job template Prefect ships for a worker type, e.g. {@code docker}. */
    public static ObjectNode prefectDefault(String type) {
        if (type.equals("process")) {
            return (ObjectNode) read("process-worker-default-base-job-template.json");
        }
        JsonNode all = read("aggregate-worker-metadata.json");
        for (Map.Entry<String, JsonNode> collection : all.properties()) {
            JsonNode entry = collection.getValue().path(type).path("default_base_job_configuration");
            if (entry.isObject()) {
                return (ObjectNode) entry;
            }
        }
        throw new IllegalArgumentException("Prefect ships no worker type '" + type + "'");
    }

    /** Every structural difference between two templates, as readable lines; empty when they match. */
    public static List<String> structuralDifferences(JsonNode ours, JsonNode prefects) {
        List<String> out = new ArrayList<>();
        compare("job_configuration", ours.path("job_configuration"), prefects.path("job_configuration"), out);
        compare("variables", withoutProse(ours.path("variables")), withoutProse(prefects.path("variables")), out);
        return out;
    }

    private static void compare(String path, JsonNode a, JsonNode b, List<String> out) {
        if (a.isObject() && b.isObject()) {
            a.properties().forEach(e -> {
                if (!b.has(e.getKey())) {
                    out.add(path + "." + e.getKey() + ": only in ours");
                }
            });
            b.properties().forEach(e -> {
                if (!a.has(e.getKey())) {
                    out.add(path + "." + e.getKey() + ": missing (Prefect has " + e.getValue() + ")");
                } else {
                    compare(path + "." + e.getKey(), a.get(e.getKey()), e.getValue(), out);
                }
            });
        } else if (!a.equals(b)) {
            out.add(path + ": ours " + a + ", Prefect's " + b);
        }
    }

    private static JsonNode withoutProse(JsonNode node) {
        JsonNode copy = node.deepCopy();
        strip(copy);
        return copy;
    }

    private static void strip(JsonNode node) {
        if (node instanceof ObjectNode o) {
            o.remove(List.of("description", "title", "examples"));
        }
        node.forEach(PrefectTemplates::strip);
    }

    private static JsonNode read(String name) {
        try (InputStream in = PrefectTemplates.class.getResourceAsStream(name)) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
