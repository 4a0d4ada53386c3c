package io.pworker.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/** Combines a deployment's and a flow run's job variables as Prefect does (worker-spec §2.3). */
public final class JobVariables {

    private JobVariables() {
    }

    /**
     * Deployment values first, then the flow run's, key by key; {@code env} objects are merged per key (the run
     * wins) when the deployment's env is an object, otherwise the run's env replaces it. Dotted keys
     * ({@code "env.FOO"}, {@code "a[0]"}) are expanded into nested objects first, and plain keys win over them.
     * Inputs are not modified; null means none.
     */
    public static ObjectNode merge(JsonNode deploymentJobVariables, JsonNode flowRunJobVariables) {
        ObjectNode result = expand(deploymentJobVariables);
        ObjectNode run = expand(flowRunJobVariables);
        for (Map.Entry<String, JsonNode> e : run.properties()) {
            JsonNode existing = result.get(e.getKey());
            if (e.getKey().equals("env") && existing != null && existing.isObject() && e.getValue().isObject()) {
                ObjectNode env = ((ObjectNode) existing).deepCopy();
                env.setAll((ObjectNode) e.getValue().deepCopy());
                result.set("env", env);
            } else {
                result.set(e.getKey(), e.getValue().deepCopy());
            }
        }
        return result;
    }

    /** Expands dotted keys into nested objects, then lays the plain keys over them (plain wins). */
    static ObjectNode expand(JsonNode variables) {
        ObjectNode dotted = JsonNodeFactory.instance.objectNode();
        ObjectNode plain = JsonNodeFactory.instance.objectNode();
        if (variables == null || !variables.isObject()) {
            return plain;
        }
        for (Map.Entry<String, JsonNode> e : variables.properties()) {
            String key = e.getKey();
            if (key.contains(".") || key.contains("[")) {
                List<Object> steps = Placeholders.steps(key);
                ObjectNode node = dotted;
                for (int i = 0; i < steps.size() - 1; i++) {
                    String step = String.valueOf(steps.get(i));
                    JsonNode child = node.get(step);
                    if (!(child instanceof ObjectNode)) {
                        child = node.putObject(step);
                    }
                    node = (ObjectNode) child;
                }
                node.set(String.valueOf(steps.getLast()), e.getValue().deepCopy());
            } else {
                plain.set(key, e.getValue().deepCopy());
            }
        }
        return deepMerge(dotted, plain);
    }

    private static ObjectNode deepMerge(ObjectNode base, ObjectNode over) {
        for (Map.Entry<String, JsonNode> e : over.properties()) {
            JsonNode existing = base.get(e.getKey());
            if (existing instanceof ObjectNode b && e.getValue() instanceof ObjectNode o) {
                deepMerge(b, o);
            } else {
                base.set(e.getKey(), e.getValue());
            }
        }
        return base;
    }

    static boolean isEmptyContainer(JsonNode node) {
        return node == null || node.isNull() || ((node instanceof ObjectNode || node instanceof ArrayNode) && node.isEmpty());
    }
}
