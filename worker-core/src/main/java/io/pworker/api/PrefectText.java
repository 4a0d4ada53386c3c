package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small readers shared by the typed Prefect objects: absent and null fields read as null, never as "null". */
final class PrefectText {

    private PrefectText() {
    }

    static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    static List<String> strings(JsonNode node, String field) {
        List<String> out = new ArrayList<>();
        JsonNode v = node.get(field);
        if (v != null && v.isArray()) {
            v.forEach(e -> out.add(e.asText()));
        }
        return List.copyOf(out);
    }

    /** The top-level scalar fields, for {@code {{ ctx.flow.<field> }}} placeholders in an infrastructure name. */
    static Map<String, JsonNode> scalars(JsonNode node) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        node.properties().forEach(e -> {
            // value nodes are immutable in Jackson, so sharing them keeps the record immutable
            if (e.getValue().isValueNode()) {
                out.put(e.getKey(), e.getValue());
            }
        });
        return Map.copyOf(out);
    }

    static JsonNode copyOrNull(JsonNode node) {
        return node == null || node.isNull() || node.isMissingNode() ? null : node.deepCopy();
    }
}
