package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.spi.ShellWords;
import java.util.LinkedHashMap;
import java.util.Map;
import software.amazon.awssdk.services.ecs.model.RunTaskRequest;

/**
 * The RunTask request of a flow run, as JSON in ECS's shape, made from the template's {@code task_run_request}
 * the way Prefect's ECS worker finishes it: task definition and cluster filled in, launch type or capacity
 * providers, the flow-run container's command and environment, labels as slugified tags.
 */
final class RunTaskRequests {

    /** Misspelt in Prefect's worker and observer; the misspelling is what both sides match, so it stays. */
    static final String DEREGISTER_TAG = "prefect.io/degregister-task-definition";

    private RunTaskRequests() {
    }

    /**
     * The RunTask request of a launch, as the SDK sends it.
     *
     * @param startedBy   what the task is started by, so that a repeated launch finds it
     * @param clientToken makes the SDK's own retries of this one call idempotent
     */
    static RunTaskRequest request(EcsJobConfiguration c, JsonNode taskDefinition, String taskDefinitionArn,
            ObjectNode network, boolean registeredForRun, String startedBy, String clientToken) throws LaunchException {
        ObjectNode body = build(c, taskDefinition, taskDefinitionArn, network, registeredForRun);
        return SdkJson.request(body, RunTaskRequest.serializableBuilderClass(), "task_run_request").build()
                .toBuilder().startedBy(startedBy).clientToken(clientToken).build();
    }

    /** What a launch of {@code run} is started by (a launch repeated for the run finds its task by it). */
    static String startedBy(String flowRunId) {
        return "pworker-" + flowRunId;
    }

    /**
     * @param taskDefinition   the definition the task runs, as registered or described
     * @param network          the awsvpc network configuration to use when the request has none, or null
     * @param registeredForRun the definition was registered for this run (so it may be deregistered after it)
     */
    static ObjectNode build(EcsJobConfiguration c, JsonNode taskDefinition, String taskDefinitionArn,
            ObjectNode network, boolean registeredForRun) throws LaunchException {
        ObjectNode r = Values.dropEmpty(c.taskRunRequest());
        r.put("taskDefinition", taskDefinitionArn);
        if (c.cluster() != null) {
            r.put("cluster", c.cluster());
        }
        if (!r.has("launchType") && !ec2Only(taskDefinition)) {
            r.put("launchType", "FARGATE");
        }
        if (r.has("capacityProviderStrategy")) {
            // ECS refuses a request with both
            r.remove("launchType");
        } else if ("FARGATE_SPOT".equals(r.path("launchType").asText())) {
            r.remove("launchType");
            r.putArray("capacityProviderStrategy").addObject().put("capacityProvider", "FARGATE_SPOT").put("weight", 1);
        }
        if ("awsvpc".equals(taskDefinition.path("networkMode").asText()) && !r.has("networkConfiguration")
                && network != null) {
            r.set("networkConfiguration", network);
        }

        ObjectNode overrides = r.has("overrides") ? (ObjectNode) r.get("overrides") : r.putObject("overrides");
        ArrayNode containerOverrides = overrides.has("containerOverrides") && overrides.get("containerOverrides").isArray()
                ? (ArrayNode) overrides.get("containerOverrides") : overrides.putArray("containerOverrides");
        String name = TaskDefinitions.containerName(c, taskDefinition);
        if (!containerOverrides.isEmpty() && containerOverrides.get(0).isObject()
                && !containerOverrides.get(0).has("name")) {
            ((ObjectNode) containerOverrides.get(0)).put("name", name);
        }
        ObjectNode flow = null;
        for (JsonNode o : containerOverrides) {
            if (!o.isObject()) {
                throw new LaunchException("invalid job configuration 'task_run_request.overrides.containerOverrides': "
                        + "expected objects, got " + o);
            }
            ObjectNode override = (ObjectNode) o;
            if (name.equals(override.path("name").asText())) {
                flow = override;
            }
            JsonNode command = override.get("command");
            if (command != null && command.isTextual()) {
                ArrayNode words = override.putArray("command");
                split(command.asText()).forEach(words::add);
            }
            override.set("environment", environment(override.get("environment"), Map.of()));
        }
        if (flow == null) {
            flow = containerOverrides.addObject().put("name", name);
        }
        if (c.command() != null) {
            ArrayNode words = flow.putArray("command");
            c.command().forEach(words::add);
        } else if (!flow.has("command")) {
            ArrayNode words = flow.putArray("command");
            EcsJobConfiguration.DEFAULT_COMMAND.forEach(words::add);
        }
        ArrayNode environment = environment(flow.get("environment"), c.env());
        // a secret ARN makes ECS put the value in the container from Secrets Manager, so the plain value goes;
        // removing a name that is not there is fine (Prefect's worker fails on workers without an API key)
        for (int i = environment.size() - 1; i >= 0; i--) {
            String n = environment.get(i).path("name").asText();
            if ((c.apiKeySecretArn() != null && n.equals("PREFECT_API_KEY"))
                    || (c.authStringSecretArn() != null && n.equals("PREFECT_API_AUTH_STRING"))) {
                environment.remove(i);
            }
        }
        flow.set("environment", environment);
        for (String key : new String[] {"cpu", "memory"}) {
            if (overrides.has(key)) {
                overrides.put(key, overrides.get(key).asText());
            }
        }
        for (JsonNode o : containerOverrides) {
            ObjectNode override = (ObjectNode) o;
            if (override.path("environment").isEmpty()) {
                override.remove("environment");
            }
        }
        r.set("tags", tags(r.get("tags"), c.labels(), registeredForRun && c.autoDeregisterTaskDefinition()));
        if (r.get("tags").isEmpty()) {
            r.remove("tags");
        }
        return r;
    }

    private static boolean ec2Only(JsonNode taskDefinition) {
        JsonNode requires = taskDefinition.path("requiresCompatibilities");
        return requires.size() == 1 && "EC2".equals(requires.get(0).asText());
    }

    /** The override's environment as a list, entries named in {@code env} replaced by env's values, nulls dropped. */
    private static ArrayNode environment(JsonNode existing, Map<String, String> env) {
        Map<String, String> merged = new LinkedHashMap<>();
        if (existing != null && existing.isObject()) {
            existing.properties().forEach(e -> {
                if (!e.getValue().isNull()) {
                    merged.put(e.getKey(), e.getValue().asText());
                }
            });
        } else if (existing != null && existing.isArray()) {
            for (JsonNode e : existing) {
                if (e.hasNonNull("name") && e.hasNonNull("value")) {
                    merged.put(e.get("name").asText(), e.get("value").asText());
                }
            }
        }
        merged.putAll(env);
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        merged.forEach((k, v) -> out.addObject().put("name", k).put("value", v));
        return out;
    }

    private static ArrayNode tags(JsonNode existing, Map<String, String> labels, boolean deregister) {
        Map<String, String> merged = new LinkedHashMap<>();
        if (existing != null && existing.isObject()) {
            existing.properties().forEach(e -> merged.put(e.getKey(), e.getValue().asText()));
        } else if (existing != null && existing.isArray()) {
            for (JsonNode t : existing) {
                merged.put(t.path("key").asText(), t.path("value").asText());
            }
        }
        merged.putAll(labels);
        if (deregister) {
            merged.put(DEREGISTER_TAG, "true");
        }
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        merged.forEach((k, v) -> {
            String key = Values.tagSlug(k);
            if (!key.isEmpty()) {
                out.addObject().put("key", key).put("value", Values.tagSlug(v));
            }
        });
        return out;
    }

    private static java.util.List<String> split(String command) throws LaunchException {
        try {
            return ShellWords.split(command);
        } catch (IllegalArgumentException e) {
            throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
        }
    }
}
