package io.pworker.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of a rendered job configuration for plugins. A value of the wrong shape is a
 * {@link LaunchException} that names the key and what was expected, which the core shows as the run's crash
 * reason. Absent keys and JSON nulls read as "unset".
 */
public final class JobConfigurationFields {

    private JobConfigurationFields() {
    }

    /** A string, or null when unset. */
    public static String text(ObjectNode c, String key) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw invalid(key, "a string", v);
        }
        return v.asText();
    }

    public static boolean bool(ObjectNode c, String key, boolean unset) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return unset;
        }
        if (!v.isBoolean()) {
            throw invalid(key, "true or false", v);
        }
        return v.asBoolean();
    }

    /** A list of strings; empty when unset. */
    public static List<String> strings(ObjectNode c, String key) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw invalid(key, "a list of strings", v);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw invalid(key, "a list of strings", e);
            }
            out.add(e.asText());
        }
        return List.copyOf(out);
    }

    /**
     * An object of names to values, in order, values as their text (numbers and booleans too, as Prefect passes
     * them); entries whose value is null are left out. Empty when unset.
     */
    public static Map<String, String> stringMap(ObjectNode c, String key) throws LaunchException {
        JsonNode v = c.get(key);
        Map<String, String> out = new LinkedHashMap<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (!v.isObject()) {
            throw invalid(key, "an object", v);
        }
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            if (!e.getValue().isNull()) {
                out.put(e.getKey(), e.getValue().asText());
            }
        }
        return out;
    }

    public static LaunchException invalid(String key, String expected, JsonNode got) {
        return new LaunchException("invalid job configuration '" + key + "': expected " + expected + ", got " + got);
    }
}
