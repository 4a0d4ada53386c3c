package io.pworker.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.path.NodePath;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a pool's base job template and a run's job variables against the template's {@code variables} JSON
 * schema, so a bad value fails with a message naming the variable instead of a broken job later.
 *
 * <p>One instance per worker: it keeps the compiled schemas of recent templates, since a pool's template rarely
 * changes and compiling is the costly part. Thread-safe.
 */
public final class JobVariablesValidator {

    private final Map<JsonNode, Schema> cache = Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<JsonNode, Schema> eldest) {
            return size() > 32;
        }
    });

    /** The template's structure, without compiling its schema. */
    static void checkShape(JsonNode baseJobTemplate) throws TemplateException {
        if (baseJobTemplate == null || !baseJobTemplate.isObject()) {
            throw new TemplateException("the base job template must be a JSON object with 'job_configuration' and "
                    + "'variables'");
        }
        JsonNode config = baseJobTemplate.get("job_configuration");
        if (config == null || !config.isObject()) {
            throw new TemplateException("'job_configuration' must be a JSON object, got "
                    + (config == null ? "nothing" : config.getNodeType().toString().toLowerCase()));
        }
        JsonNode variables = baseJobTemplate.get("variables");
        if (variables != null && !variables.isNull()) {
            if (!variables.isObject()) {
                throw new TemplateException("'variables' must be a JSON schema object, got "
                        + variables.getNodeType().toString().toLowerCase());
            }
            JsonNode props = variables.get("properties");
            if (props != null && !props.isObject()) {
                throw new TemplateException("'variables.properties' must be an object");
            }
        }
    }

    /** Malformed template → an exception saying what is wrong with it. */
    public void checkTemplate(JsonNode baseJobTemplate) throws TemplateException {
        checkShape(baseJobTemplate);
        JsonNode variables = baseJobTemplate.get("variables");
        if (variables != null && variables.isObject()) {
            try {
                schema(variables);
            } catch (RuntimeException e) {
                throw new TemplateException("'variables' is not a usable JSON schema: " + e.getMessage());
            }
        }
    }

    /**
     * Violations of the template's variables schema by the values a run would use (defaults overlaid with the
     * merged job variables), each naming the variable and the rule. Block references and whole-string
     * placeholders are resolved later and are not judged here.
     */
    public List<String> validate(JsonNode baseJobTemplate, ObjectNode jobVariables) {
        JsonNode variables = baseJobTemplate.get("variables");
        if (variables == null || !variables.isObject() || variables.isEmpty()) {
            return List.of();
        }
        ObjectNode values = baseJobTemplate.path("variables").path("properties").isObject()
                ? defaults(variables.get("properties")) : com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        if (jobVariables != null) {
            values.setAll(jobVariables.deepCopy());
        }
        List<String> out = new ArrayList<>();
        for (Error error : schema(variables).validate(values)) {
            NodePath at = error.getInstanceLocation();
            if (insideDeferredValue(values, at)) {
                continue;
            }
            String variable = at.getNameCount() > 0 ? String.valueOf(at.getElement(0)) : describeRoot(error);
            String message = error.getMessage();
            String rule = message.startsWith("$") ? message.substring(message.indexOf(':') + 1).strip() : message;
            String got = error.getInstanceNode() == null ? "" : " (got " + error.getInstanceNode() + ")";
            out.add("job variable '" + variable + "'" + (at.getNameCount() > 1 ? " at " + at : "") + ": " + rule + got);
        }
        return out;
    }

    private static String describeRoot(Error error) {
        Object property = error.getProperty();
        return property != null ? property.toString() : "(all)";
    }

    private static ObjectNode defaults(JsonNode properties) {
        ObjectNode values = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, JsonNode> p : properties.properties()) {
            JsonNode def = p.getValue().get("default");
            if (def != null && !def.isNull()) {
                values.set(p.getKey(), def.deepCopy());
            }
        }
        return values;
    }

    /** True when the failing value, or one that contains it, is a block reference or a lone placeholder. */
    private static boolean insideDeferredValue(JsonNode root, NodePath at) {
        JsonNode node = root;
        if (isDeferred(node)) {
            return true;
        }
        for (int i = 0; i < at.getNameCount() && node != null; i++) {
            Object step = at.getElement(i);
            node = step instanceof Integer index ? node.get(index) : node.get(String.valueOf(step));
            if (isDeferred(node)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isDeferred(JsonNode node) {
        if (node == null) {
            return false;
        }
        if (node.isTextual()) {
            return Placeholders.whole(node.asText()) != null;
        }
        JsonNode ref = node.get("$ref");
        return node.isObject() && ref != null && ref.isObject() && ref.has("block_document_id");
    }

    private Schema schema(JsonNode variables) {
        return cache.computeIfAbsent(variables.deepCopy(), v ->
                SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(v));
    }
}
