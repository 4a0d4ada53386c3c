package io.pworker.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pworker.template.Placeholders.Kind;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;

/**
 * Renders a work pool's base job template for one flow run, following Prefect's rules (worker-spec §2.3–2.4):
 * values = variable defaults overlaid with job variables; placeholders in {@code job_configuration} are
 * replaced (a whole-string placeholder keeps the value's JSON type, a missing value removes the key); then
 * block references are resolved, then variables. Works on the JSON tree, so types survive.
 */
public final class JobTemplateRenderer {

    private final Map<String, String> environment;

    /** @param environment the worker's environment, for {@code {{ $NAME }}} placeholders */
    public JobTemplateRenderer(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    public ObjectNode render(JsonNode baseJobTemplate, ObjectNode jobVariables, PlaceholderResolver resolver)
            throws TemplateException {
        JobVariablesValidator.checkShape(baseJobTemplate);
        ObjectNode configuration = baseJobTemplate.get("job_configuration").deepCopy();
        ObjectNode values = JsonNodeFactory.instance.objectNode();
        JsonNode properties = baseJobTemplate.path("variables").path("properties");
        if (properties.isObject()) {
            for (Map.Entry<String, JsonNode> p : properties.properties()) {
                JsonNode def = p.getValue().get("default");
                // a null default means "no value", exactly like an absent one
                if (def != null && !def.isNull()) {
                    values.set(p.getKey(), def.deepCopy());
                }
            }
        }
        JsonNode defaultEnv = values.get("env");
        if (defaultEnv != null && defaultEnv.isObject() && !defaultEnv.isEmpty()) {
            JsonNode templateEnv = configuration.get("env");
            if (templateEnv != null && templateEnv.isObject()) {
                ((ObjectNode) templateEnv).setAll((ObjectNode) defaultEnv.deepCopy());
            } else {
                configuration.set("env", defaultEnv.deepCopy());
            }
        }
        if (jobVariables != null) {
            values.setAll(jobVariables.deepCopy());
            JsonNode runEnv = jobVariables.get("env");
            JsonNode configEnv = configuration.get("env");
            if (configEnv != null && configEnv.isObject() && runEnv != null && runEnv.isObject() && !runEnv.isEmpty()) {
                ((ObjectNode) configEnv).setAll((ObjectNode) runEnv.deepCopy());
            }
        }
        ObjectNode rendered = (ObjectNode) renderStandard(configuration, values);
        Lookups lookups = new Lookups(resolver);
        JsonNode withBlocks = resolveBlocks(rendered, lookups, "job_configuration");
        return (ObjectNode) resolveVariables(withBlocks, lookups);
    }

    /** Returns null for "not set": the caller drops the key or list element. */
    private JsonNode renderStandard(JsonNode node, ObjectNode values) {
        if (node instanceof ObjectNode object) {
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            for (Map.Entry<String, JsonNode> e : object.properties()) {
                JsonNode v = renderStandard(e.getValue(), values);
                if (v != null) {
                    out.set(e.getKey(), v);
                }
            }
            return out;
        }
        if (node instanceof ArrayNode array) {
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            for (JsonNode element : array) {
                JsonNode v = renderStandard(element, values);
                if (v != null) {
                    out.add(v);
                }
            }
            return out;
        }
        if (!node.isTextual()) {
            return node;
        }
        String text = node.asText();
        String whole = Placeholders.whole(text);
        if (whole != null && Placeholders.kind(whole) == Kind.STANDARD) {
            JsonNode value = Placeholders.lookup(values, whole);
            return value == null ? null : value.deepCopy();
        }
        Matcher m = Placeholders.PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        boolean changed = false;
        while (m.find()) {
            String name = m.group(1);
            String replacement;
            switch (Placeholders.kind(name)) {
                case STANDARD -> {
                    JsonNode value = Placeholders.lookup(values, name);
                    replacement = value == null ? "" : Placeholders.text(value);
                }
                case ENV -> replacement = environment.getOrDefault(name.substring(1), "");
                default -> replacement = m.group(0);
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
            changed = true;
        }
        if (!changed) {
            return node;
        }
        m.appendTail(out);
        return TextNode.valueOf(out.toString());
    }

    /** Per-rendering cache, so a block used in five places is fetched once. */
    private static final class Lookups {
        final PlaceholderResolver resolver;
        final Map<String, JsonNode> blocks = new HashMap<>();
        final Map<String, Optional<JsonNode>> variables = new HashMap<>();

        Lookups(PlaceholderResolver resolver) {
            this.resolver = resolver;
        }

        JsonNode blockDocument(String id) throws TemplateException {
            JsonNode cached = blocks.get("id:" + id);
            if (cached == null) {
                cached = resolver.blockDocument(id);
                blocks.put("id:" + id, cached);
            }
            return cached;
        }

        JsonNode block(String slug, String name) throws TemplateException {
            String key = "slug:" + slug + "/" + name;
            JsonNode cached = blocks.get(key);
            if (cached == null) {
                cached = resolver.block(slug, name);
                blocks.put(key, cached);
            }
            return cached;
        }

        Optional<JsonNode> variable(String name) throws TemplateException {
            Optional<JsonNode> cached = variables.get(name);
            if (cached == null) {
                cached = resolver.variable(name);
                variables.put(name, cached);
            }
            return cached;
        }
    }

    private JsonNode resolveBlocks(JsonNode node, Lookups lookups, String where) throws TemplateException {
        if (node instanceof ObjectNode object) {
            JsonNode ref = object.get("$ref");
            if (ref != null && ref.isObject() && ref.has("block_document_id")) {
                return lookups.blockDocument(ref.get("block_document_id").asText()).deepCopy();
            }
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            for (Map.Entry<String, JsonNode> e : object.properties()) {
                out.set(e.getKey(), resolveBlocks(e.getValue(), lookups, where + "." + e.getKey()));
            }
            return out;
        }
        if (node instanceof ArrayNode array) {
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            int i = 0;
            for (JsonNode element : array) {
                out.add(resolveBlocks(element, lookups, where + "[" + i++ + "]"));
            }
            return out;
        }
        if (!node.isTextual() || !node.asText().contains(Placeholders.BLOCKS)) {
            return node;
        }
        String text = node.asText();
        String whole = Placeholders.whole(text);
        if (whole != null && Placeholders.kind(whole) == Kind.BLOCK) {
            return blockValue(whole, lookups).deepCopy();
        }
        Matcher m = Placeholders.PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1);
            if (Placeholders.kind(name) != Kind.BLOCK) {
                m.appendReplacement(out, Matcher.quoteReplacement(m.group(0)));
                continue;
            }
            JsonNode value = blockValue(name, lookups);
            if (value.isContainerNode()) {
                throw new TemplateException("{{ " + name + " }} in " + where + " is an object or list and cannot be "
                        + "placed inside a longer string; make it the whole value or point at a scalar field");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(Placeholders.text(value)));
        }
        m.appendTail(out);
        return TextNode.valueOf(out.toString());
    }

    private JsonNode blockValue(String placeholder, Lookups lookups) throws TemplateException {
        String[] parts = placeholder.substring(Placeholders.BLOCKS.length()).split("\\.", 3);
        if (parts.length < 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new TemplateException("{{ " + placeholder + " }} must name a block type and a block: "
                    + "{{ prefect.blocks.<type-slug>.<name>[.<field>] }}");
        }
        JsonNode data = lookups.block(parts[0], parts[1]);
        String path = parts.length == 3 ? parts[2] : "";
        // system blocks (Secret, String, JSON…) keep their payload under a single "value" key
        if (data.isObject() && data.size() == 1 && data.has("value") && !path.startsWith("value")) {
            data = data.get("value");
        }
        if (path.isEmpty()) {
            return data;
        }
        JsonNode value = Placeholders.lookup(data, path);
        if (value == null) {
            throw new TemplateException("Could not resolve the keypath '" + path + "' in block '" + parts[1]
                    + "' of type '" + parts[0] + "' (placeholder {{ " + placeholder + " }})");
        }
        return value;
    }

    private JsonNode resolveVariables(JsonNode node, Lookups lookups) throws TemplateException {
        if (node instanceof ObjectNode object) {
            for (Iterator<Map.Entry<String, JsonNode>> it = object.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                e.setValue(resolveVariables(e.getValue(), lookups));
            }
            return object;
        }
        if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                array.set(i, resolveVariables(array.get(i), lookups));
            }
            return array;
        }
        if (!node.isTextual() || !node.asText().contains(Placeholders.VARIABLES)) {
            return node;
        }
        String text = node.asText();
        String whole = Placeholders.whole(text);
        if (whole != null && Placeholders.kind(whole) == Kind.VARIABLE) {
            // a missing variable becomes "" (Prefect's rule), not an error
            return lookups.variable(whole.substring(Placeholders.VARIABLES.length()))
                    .<JsonNode>map(JsonNode::deepCopy).orElse(TextNode.valueOf(""));
        }
        Matcher m = Placeholders.PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1);
            String replacement = m.group(0);
            if (Placeholders.kind(name) == Kind.VARIABLE) {
                replacement = lookups.variable(name.substring(Placeholders.VARIABLES.length()))
                        .map(Placeholders::text).orElse("");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return TextNode.valueOf(out.toString());
    }
}
