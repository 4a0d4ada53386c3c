package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import software.amazon.awssdk.services.ecs.model.RegisterTaskDefinitionRequest;

/**
 * The task definition of a flow run, as JSON in the shape of ECS's RegisterTaskDefinition: built from the job
 * configuration the way Prefect's ECS worker builds it, checked against the launch type, and compared with a
 * registered one after both are normalised (so that an equal definition is reused instead of registering a new
 * revision for every run).
 */
final class TaskDefinitions {

    static final String DEFAULT_CONTAINER = "prefect";
    static final int DEFAULT_CPU = 1024;
    static final int DEFAULT_MEMORY = 2048;

    /** Fields ECS adds when it registers a definition; they never make two definitions different. */
    private static final Set<String> REGISTRATION_FIELDS = Set.of("compatibilities", "taskDefinitionArn", "revision",
            "status", "requiresAttributes", "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt",
            "tags");

    private TaskDefinitions() {
    }

    /** The launch type the run request asks for, FARGATE when it names none. */
    static String launchType(EcsJobConfiguration c) {
        String t = c.taskRunRequest().path("launchType").asText("");
        return t.isBlank() ? "FARGATE" : t;
    }

    /**
     * The container that runs the flow: {@code container_name}, else one named {@code prefect}, else the first
     * named one, else {@code prefect}.
     */
    static String containerName(EcsJobConfiguration c, JsonNode taskDefinition) {
        if (c.containerName() != null) {
            return c.containerName();
        }
        String first = null;
        for (JsonNode container : taskDefinition.path("containerDefinitions")) {
            String name = container.path("name").asText("");
            if (name.equals(DEFAULT_CONTAINER)) {
                return name;
            }
            if (first == null && !name.isBlank()) {
                first = name;
            }
        }
        return first != null ? first : DEFAULT_CONTAINER;
    }

    /**
     * @param region       the region the task runs in (for the awslogs driver)
     * @param defaultImage the image of a container that names none
     */
    static ObjectNode build(EcsJobConfiguration c, FlowRunInfo run, String region, String defaultImage)
            throws LaunchException {
        ObjectNode td = c.taskDefinition().deepCopy();
        JsonNode defs = td.get("containerDefinitions");
        if (defs != null && !defs.isNull() && !defs.isArray()) {
            throw new LaunchException("invalid job configuration 'task_definition.containerDefinitions': expected a "
                    + "list of container definitions");
        }
        ArrayNode containers = td.putArray("containerDefinitions");
        if (defs != null && defs.isArray()) {
            for (JsonNode d : defs) {
                if (!d.isObject()) {
                    throw new LaunchException("invalid job configuration 'task_definition.containerDefinitions': "
                            + "expected objects, got " + d);
                }
                containers.add(d);
            }
        }
        String name = containerName(c, Values.dropEmpty(td));
        ObjectNode container = container(containers, name);

        if (container.path("image").asText("").isBlank()) {
            container.put("image", defaultImage);
        }
        JsonNode env = container.get("environment");
        if (env != null && env.isArray()) {
            ArrayNode kept = container.putArray("environment");
            for (JsonNode e : env) {
                if (!e.path("value").isNull() && !e.path("value").isMissingNode()
                        && !c.unsetEnv().contains(e.path("name").asText())) {
                    kept.add(e);
                }
            }
        }
        if (c.configureCloudwatchLogs()) {
            ObjectNode options = JsonNodeFactory.instance.objectNode()
                    .put("awslogs-create-group", "true")
                    .put("awslogs-group", "prefect")
                    .put("awslogs-region", region)
                    .put("awslogs-stream-prefix", c.cloudwatchLogsPrefix() != null ? c.cloudwatchLogsPrefix()
                            : "prefect-logs_" + run.workPoolName() + "_" + deploymentOrFlow(run));
            c.cloudwatchLogsOptions().forEach(options::put);
            container.putObject("logConfiguration").put("logDriver", "awslogs").set("options", options);
        }
        if (td.path("family").asText("").isBlank()) {
            // ECS allows only letters, digits, - and _ in a family; Prefect's worker forgets to slugify the pool name
            td.put("family", Values.familySlug("prefect_" + run.workPoolName() + "_" + deploymentOrFlow(run)));
        }
        int cpu = integer(td, "cpu", DEFAULT_CPU);
        int memory = integer(td, "memory", DEFAULT_MEMORY);
        String launchType = launchType(c);
        if (launchType.equals("FARGATE") || launchType.equals("FARGATE_SPOT")) {
            td.put("cpu", String.valueOf(cpu));
            td.put("memory", String.valueOf(memory));
            ArrayNode requires = td.has("requiresCompatibilities") && td.get("requiresCompatibilities").isArray()
                    ? (ArrayNode) td.get("requiresCompatibilities") : td.putArray("requiresCompatibilities");
            if (!contains(requires, "FARGATE")) {
                requires.add("FARGATE");
            }
            if (td.path("networkMode").asText("").isBlank()) {
                td.put("networkMode", "awsvpc");
            }
        } else if (launchType.equals("EC2")) {
            container.put("cpu", integer(container, "cpu", cpu));
            container.put("memory", integer(container, "memory", memory));
        }
        for (String key : List.of("cpu", "memory")) {
            JsonNode v = td.get(key);
            if (v != null && !v.isNull() && !v.asText().isBlank()) {
                td.put(key, v.asText());
            }
        }
        secret(container, "PREFECT_API_KEY", c.apiKeySecretArn());
        secret(container, "PREFECT_API_AUTH_STRING", c.authStringSecretArn());
        return Values.dropEmpty(td);
    }

    /** The definition a launch registers, unless an equal one can be reused: built, then checked. */
    static ObjectNode desired(EcsJobConfiguration c, FlowRunInfo run, String region, String defaultImage)
            throws LaunchException {
        ObjectNode desired = build(c, run, region, defaultImage);
        validate(desired, launchType(c));
        return desired;
    }

    /** The RegisterTaskDefinition request of a desired definition; an unknown field or a wrong type is named. */
    static RegisterTaskDefinitionRequest registerRequest(ObjectNode desired) throws LaunchException {
        return SdkJson.request(desired, RegisterTaskDefinitionRequest.serializableBuilderClass(), "task_definition")
                .build();
    }

    /** Refuses a definition the run cannot use: no essential container, or one that cannot run on the launch type. */
    static void validate(JsonNode td, String launchType) throws LaunchException {
        boolean essential = false;
        for (JsonNode container : td.path("containerDefinitions")) {
            essential |= !container.path("essential").isBoolean() || container.get("essential").asBoolean();
        }
        if (!essential) {
            throw new LaunchException("the task definition has no essential container; ECS needs at least one");
        }
        if (launchType.equals("FARGATE") || launchType.equals("FARGATE_SPOT")) {
            JsonNode compatible = td.has("compatibilities") ? td.get("compatibilities") : td.path("requiresCompatibilities");
            if (!contains(compatible, "FARGATE")) {
                throw new LaunchException("the task definition is not compatible with FARGATE (its "
                        + "requiresCompatibilities is " + td.path("requiresCompatibilities") + "); use launch type EC2 "
                        + "or a definition that requires FARGATE");
            }
            String mode = td.path("networkMode").asText("bridge");
            if (!mode.equals("awsvpc")) {
                throw new LaunchException("the task definition uses network mode '" + mode + "', which FARGATE does "
                        + "not support; use network mode awsvpc or launch type EC2");
            }
        }
    }

    /** A definition in the form two equal definitions share, whether built here or described by ECS. */
    static ObjectNode normalise(JsonNode td) {
        ObjectNode n = Values.dropEmpty((ObjectNode) td);
        REGISTRATION_FIELDS.forEach(n::remove);
        if (!n.has("networkMode")) {
            n.put("networkMode", "bridge");
        }
        for (String key : List.of("cpu", "memory")) {
            if (n.has(key)) {
                n.put(key, n.get(key).asText());
            }
        }
        JsonNode containers = n.path("containerDefinitions");
        for (JsonNode c : containers) {
            ObjectNode container = (ObjectNode) c;
            if (!container.has("essential")) {
                container.put("essential", true);
            }
            if (container.path("cpu").isNumber() && container.get("cpu").asInt() == 0) {
                // ECS describes a container without CPU units as 0
                container.remove("cpu");
            }
            sort(container, "environment", "name");
            sort(container, "secrets", "name");
            sort(container, "environmentFiles", "value");
        }
        return n;
    }

    static String deploymentOrFlow(FlowRunInfo run) {
        return run.deploymentId() != null ? run.deploymentId() : run.flowId();
    }

    private static ObjectNode container(ArrayNode containers, String name) {
        for (JsonNode c : containers) {
            if (name.equals(c.path("name").asText())) {
                return (ObjectNode) c;
            }
        }
        for (JsonNode c : containers) {
            if (c.path("name").asText("").isBlank()) {
                ((ObjectNode) c).put("name", name);
                return (ObjectNode) c;
            }
        }
        return containers.addObject().put("name", name);
    }

    private static void secret(ObjectNode container, String name, String arn) {
        if (arn == null) {
            return;
        }
        ArrayNode secrets = JsonNodeFactory.instance.arrayNode();
        for (JsonNode s : container.path("secrets")) {
            if (!name.equals(s.path("name").asText())) {
                secrets.add(s);
            }
        }
        secrets.addObject().put("name", name).put("valueFrom", arn);
        container.set("secrets", secrets);
    }

    private static int integer(ObjectNode node, String key, int unset) throws LaunchException {
        JsonNode v = node.get(key);
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isBlank())) {
            return unset;
        }
        if (v.isIntegralNumber()) {
            return v.asInt();
        }
        try {
            return Integer.parseInt(v.asText().strip());
        } catch (NumberFormatException e) {
            throw new LaunchException("invalid job configuration '" + key + "': expected a whole number, got " + v);
        }
    }

    private static boolean contains(JsonNode array, String value) {
        for (JsonNode v : array) {
            if (value.equals(v.asText())) {
                return true;
            }
        }
        return false;
    }

    private static void sort(ObjectNode container, String key, String by) {
        JsonNode list = container.get(key);
        if (list == null || !list.isArray()) {
            return;
        }
        List<JsonNode> items = new ArrayList<>();
        list.forEach(items::add);
        items.sort(Comparator.comparing(i -> i.path(by).asText()));
        container.putArray(key).addAll(items);
    }
}
