package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.JobConfigurationFields;
import io.pworker.spi.LaunchException;
import io.pworker.spi.ShellWords;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kubernetes type's job configuration, validated and prepared as prefect-kubernetes does it (worker-spec §7.3):
 * the rendered {@code job_manifest} checked for the parts a flow-run Job needs, then filled with the run's
 * environment, labels, annotations, image, arguments and name.
 *
 * @param namespace the namespace the Job is created in ({@code namespace}, default {@code default})
 * @param manifest  the Job to create, as JSON; {@link JobManifests#toJob} turns it into client-java's model
 * @param cluster   the cluster to use, or null for the worker's own (in-cluster account or kubeconfig)
 */
record KubernetesJobConfiguration(String namespace, ObjectNode manifest, ClusterConfig cluster) {

    static final String CONTAINER = "prefect-job";
    static final String SIGTERM_BEHAVIOR = "PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR";
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final List<String> DEFAULT_ARGS = List.of("prefect", "flow-run", "execute");

    /** Namespace and cluster only: what kill, recover and watch need from a configuration. */
    static String namespaceOf(ObjectNode configuration) throws LaunchException {
        String ns = JobConfigurationFields.text(configuration, "namespace");
        return ns == null || ns.isBlank() ? "default" : ns;
    }

    /** A whole number of at least 0, or null when unset (the SPI's typed reads have no integers). */
    static Integer integer(ObjectNode configuration, String key) throws LaunchException {
        JsonNode v = configuration.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.canConvertToInt() && v.isIntegralNumber() && v.asInt() >= 0) {
            return v.asInt();
        }
        if (v.isTextual() && v.asText().strip().matches("\\d{1,9}")) {
            return Integer.valueOf(v.asText().strip());
        }
        throw JobConfigurationFields.invalid(key, "a whole number of seconds", v);
    }

    static KubernetesJobConfiguration prepare(ObjectNode configuration, FlowRunInfo run, String defaultImage)
            throws LaunchException {
        String namespace = namespaceOf(configuration);
        JsonNode rendered = configuration.get("job_manifest");
        if (rendered == null || !rendered.isObject()) {
            throw new LaunchException("invalid job configuration 'job_manifest': expected a Kubernetes Job manifest "
                    + "as an object, got " + (rendered == null ? "nothing" : rendered.getNodeType()));
        }
        ObjectNode manifest = ((ObjectNode) rendered).deepCopy();
        ObjectNode metadata = object(manifest, "metadata");
        object(metadata, "labels");
        if (!metadata.hasNonNull("namespace")) {
            metadata.put("namespace", namespace);
        }
        ManifestCheck.requireFlowRunJob(manifest);
        ObjectNode container = (ObjectNode) manifest.at("/spec/template/spec/containers/0");

        Map<String, String> env = new LinkedHashMap<>();
        List<JsonNode> referencedEnv = new ArrayList<>();
        readEnv(configuration.get("env"), env, referencedEnv);
        evictionBehaviour(manifest, env);
        writeEnv(container, env, referencedEnv);

        Map<String, String> labels = labels(manifest, configuration, run);
        ObjectNode podMetadata = object(object(object(manifest, "spec"), "template"), "metadata");
        ObjectNode jobLabels = metadata.putObject("labels");
        ObjectNode podLabels = object(podMetadata, "labels");
        labels.forEach((k, v) -> {
            jobLabels.put(k, v);
            podLabels.put(k, v);
        });
        Map<String, String> annotations = annotations(metadata, configuration);
        ObjectNode jobAnnotations = metadata.putObject("annotations");
        annotations.forEach(jobAnnotations::put);
        if (!annotations.isEmpty()) {
            ObjectNode podAnnotations = object(podMetadata, "annotations");
            annotations.forEach(podAnnotations::put);
        }

        JsonNode image = container.get("image");
        if (image == null || image.isNull() || (image.isTextual() && image.asText().isBlank())) {
            container.put("image", defaultImage);
        }
        container.set("args", args(container.get("args")));
        generateName(metadata, JobConfigurationFields.text(configuration, "name"));
        return new KubernetesJobConfiguration(namespace, manifest, ClusterConfig.of(configuration));
    }

    /** The environment as a map of plain values plus the Kubernetes entries that reference secrets or fields. */
    private static void readEnv(JsonNode v, Map<String, String> plain, List<JsonNode> referenced) throws LaunchException {
        if (v == null || v.isNull()) {
            return;
        }
        if (v.isObject()) {
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                if (!e.getValue().isNull()) {
                    plain.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString());
                }
            }
        } else if (v.isArray()) {
            for (JsonNode e : v) {
                if (!e.isObject() || !e.path("name").isTextual()) {
                    throw new LaunchException("invalid job configuration 'env': list entries need a 'name', got " + e);
                }
                if (e.has("valueFrom")) {
                    referenced.add(e);
                } else if (e.hasNonNull("value")) {
                    plain.put(e.get("name").asText(), e.get("value").asText());
                }
            }
        } else {
            throw JobConfigurationFields.invalid("env", "an object or a list of Kubernetes env entries", v);
        }
    }

    /**
     * With {@code backoffLimit: 0} an evicted pod is not retried, so the flow run asks Prefect to reschedule it;
     * with retries, Kubernetes owns them and the run only relinquishes.
     */
    private static void evictionBehaviour(ObjectNode manifest, Map<String, String> env) {
        JsonNode limit = manifest.at("/spec/backoffLimit");
        int backoffLimit = limit.isNumber() || limit.isTextual() ? limit.asInt(6) : 6;
        if (backoffLimit == 0) {
            env.putIfAbsent(SIGTERM_BEHAVIOR, "reschedule");
        } else {
            env.put(SIGTERM_BEHAVIOR, "relinquish");
        }
    }

    /** Prefect's variables first; entries the template hard-coded stay when they name something else or a source. */
    private static void writeEnv(ObjectNode container, Map<String, String> env, List<JsonNode> referenced) {
        ArrayNode out = NODES.arrayNode();
        env.forEach((k, v) -> out.addObject().put("name", k).put("value", v));
        JsonNode template = container.get("env");
        if (template != null && template.isArray()) {
            for (JsonNode e : template) {
                String name = e.path("name").asText(null);
                if (name != null && (e.has("valueFrom") || !env.containsKey(name))) {
                    out.add(e);
                }
            }
        }
        referenced.forEach(out::add);
        container.set("env", out);
    }

    private static Map<String, String> labels(ObjectNode manifest, ObjectNode configuration, FlowRunInfo run)
            throws LaunchException {
        Map<String, String> merged = new LinkedHashMap<>();
        JsonNode template = manifest.at("/metadata/labels");
        template.properties().forEach(e -> {
            if (!e.getValue().isNull()) {
                merged.put(e.getKey(), e.getValue().asText());
            }
        });
        Map<String, String> config = JobConfigurationFields.stringMap(configuration, "labels");
        String version = config.getOrDefault("prefect.io/version", "").split("\\+")[0];
        merged.put("app.kubernetes.io/managed-by", "prefect");
        merged.put("app.kubernetes.io/part-of", "prefect");
        if (!version.isEmpty()) {
            merged.put("app.kubernetes.io/version", version);
        }
        String appName = run.deploymentName() != null ? run.deploymentName() : run.flowName();
        if (appName != null) {
            merged.put("app.kubernetes.io/name", appName);
        }
        merged.putAll(config);
        if (!version.isEmpty()) {
            merged.put("prefect.io/version", version);
        }
        Map<String, String> out = new LinkedHashMap<>();
        merged.forEach((k, v) -> out.put(KubernetesNames.labelKey(k), KubernetesNames.labelValue(v)));
        return out;
    }

    private static Map<String, String> annotations(ObjectNode metadata, ObjectNode configuration) throws LaunchException {
        Map<String, String> merged = new LinkedHashMap<>();
        JsonNode template = metadata.get("annotations");
        if (template != null && template.isObject()) {
            template.properties().forEach(e -> {
                if (!e.getValue().isNull()) {
                    merged.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString());
                }
            });
        } else if (template != null && !template.isNull()) {
            throw JobConfigurationFields.invalid("job_manifest", "metadata.annotations to be an object", template);
        }
        merged.putAll(JobConfigurationFields.stringMap(configuration, "annotations"));
        Map<String, String> out = new LinkedHashMap<>();
        merged.forEach((k, v) -> out.put(KubernetesNames.labelKey(k), v));
        return out;
    }

    private static ArrayNode args(JsonNode command) throws LaunchException {
        ArrayNode out = NODES.arrayNode();
        if (command == null || command.isNull()) {
            DEFAULT_ARGS.forEach(out::add);
        } else if (command.isTextual()) {
            try {
                ShellWords.split(command.asText()).forEach(out::add);
            } catch (IllegalArgumentException e) {
                throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
            }
        } else if (command.isArray()) {
            for (JsonNode a : command) {
                out.add(a.isTextual() ? a.asText() : a.toString());
            }
        } else {
            throw new LaunchException("Invalid job manifest template: 'command' must be a string or list.");
        }
        return out;
    }

    /** A name the template could not fill ({@code "-"}, a leftover placeholder) becomes the run's slug. */
    private static void generateName(ObjectNode metadata, String name) {
        JsonNode current = metadata.get("generateName");
        String text = current == null || current.isNull() ? "" : current.asText();
        if (text.isEmpty() || text.contains("{{") || text.equals("-") || text.equals("None-")) {
            String stem = name == null ? null : KubernetesNames.nameStem(name);
            metadata.put("generateName", (stem == null ? "prefect-job" : stem) + "-");
        }
    }

    /** The object at {@code key}, created when it is missing or null. */
    static ObjectNode object(ObjectNode parent, String key) {
        JsonNode v = parent.get(key);
        if (v instanceof ObjectNode o) {
            return o;
        }
        return parent.putObject(key);
    }
}
