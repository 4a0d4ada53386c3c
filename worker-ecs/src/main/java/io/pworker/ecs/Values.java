package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.text.Normalizer;
import java.util.Map;
import java.util.regex.Pattern;

/** Small operations on rendered JSON shared by the task-definition and run-request preparation. */
final class Values {

    /** Characters ECS allows in tag keys and values besides letters and digits. */
    private static final Pattern NOT_TAG_CHAR = Pattern.compile("[^\\p{L}\\p{N}_./=+:@-]+");
    private static final Pattern THOUSANDS = Pattern.compile("(?<=\\d),(?=\\d)");

    private Values() {
    }

    /**
     * A copy without the values a template leaves behind for unset variables: null, "", [] and {} (recursively),
     * as AWS refuses them. {@code false} and {@code 0} are values and stay.
     */
    static ObjectNode dropEmpty(ObjectNode node) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            JsonNode v = dropEmpty(e.getValue());
            if (v != null) {
                out.set(e.getKey(), v);
            }
        }
        return out;
    }

    private static JsonNode dropEmpty(JsonNode v) {
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isEmpty())) {
            return null;
        }
        if (v.isObject()) {
            ObjectNode o = dropEmpty((ObjectNode) v);
            return o.isEmpty() ? null : o;
        }
        if (v.isArray()) {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            for (JsonNode e : v) {
                JsonNode kept = dropEmpty(e);
                if (kept != null) {
                    a.add(kept);
                }
            }
            return a.isEmpty() ? null : a;
        }
        return v;
    }

    /**
     * A tag key or value as Prefect's ECS worker writes it: runs of characters ECS does not allow become one dash,
     * dashes at either end go, case is kept.
     */
    static String tagSlug(String s) {
        String t = Normalizer.normalize(s, Normalizer.Form.NFKC);
        t = THOUSANDS.matcher(t).replaceAll("");
        t = NOT_TAG_CHAR.matcher(t).replaceAll("-");
        t = t.replaceAll("-{2,}", "-");
        return t.replaceAll("^-+|-+$", "");
    }

    /** Names allowed in task-definition families: letters, digits, dashes and underscores. */
    static String familySlug(String s) {
        return s.replaceAll("[^A-Za-z0-9_-]+", "-");
    }
}
