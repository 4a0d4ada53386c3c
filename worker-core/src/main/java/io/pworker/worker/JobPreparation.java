package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.Deployment;
import io.pworker.api.Flow;
import io.pworker.api.FlowRun;
import io.pworker.spi.FlowRunInfo;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prefect's common preparation of a rendered job configuration (worker-spec §2.6): the environment a flow run
 * sees, the {@code prefect.io/*} labels, the infrastructure name and the default command. What is left is the
 * plugin's.
 */
final class JobPreparation {

    static final String DEFAULT_COMMAND = "prefect flow-run execute";
    private static final Pattern CTX = Pattern.compile("\\{\\{\\s*ctx\\.(flow|flow_run)\\.([\\w]+)\\s*}}");

    private JobPreparation() {
    }

    /**
     * @param configuration  the rendered job configuration; changed in place
     * @param inheritedEnv   Prefect settings the worker forwards (set explicitly for the worker)
     * @param deployment     the deployment, or null
     * @param flow           the flow, or null
     * @param flowRun        the flow run
     */
    static void prepare(ObjectNode configuration, FlowRunInfo run, Map<String, String> inheritedEnv,
            Deployment deployment, Flow flow, FlowRun flowRun, String prefectVersion) {
        Map<String, String> env = new LinkedHashMap<>(inheritedEnv);
        env.put("PREFECT__FLOW_RUN_ID", run.id());
        env.put("PREFECT__WORKER_NAME", run.workerName());
        putIfSet(env, "PREFECT__FLOW_ID", run.flowId());
        putIfSet(env, "PREFECT__FLOW_NAME", run.flowName());
        putIfSet(env, "PREFECT__DEPLOYMENT_ID", run.deploymentId());
        putIfSet(env, "PREFECT__DEPLOYMENT_NAME", run.deploymentName());
        JsonNode rendered = configuration.get("env");
        if (rendered != null && rendered.isObject()) {
            for (var e : rendered.properties()) {
                if (e.getValue().isNull()) {
                    // a null in job variables removes an inherited variable, e.g. {"PREFECT_API_KEY": null}
                    env.remove(e.getKey());
                } else {
                    env.put(e.getKey(), PythonText.str(e.getValue()));
                }
            }
        }
        ObjectNode envNode = configuration.putObject("env");
        env.forEach(envNode::put);

        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("prefect.io/flow-run-id", run.id());
        putIfSet(labels, "prefect.io/flow-run-name", run.name());
        labels.put("prefect.io/version", prefectVersion);
        putIfSet(labels, "prefect.io/work-pool-name", run.workPoolName());
        putIfSet(labels, "prefect.io/work-pool-id", run.workPoolId());
        labels.put("prefect.io/worker-name", run.workerName());
        putIfSet(labels, "prefect.io/flow-id", run.flowId());
        putIfSet(labels, "prefect.io/flow-name", run.flowName());
        putIfSet(labels, "prefect.io/deployment-id", run.deploymentId());
        putIfSet(labels, "prefect.io/deployment-name", run.deploymentName());
        if (deployment != null && deployment.updated() != null) {
            labels.put("prefect.io/deployment-updated", deployment.updated());
        }
        JsonNode userLabels = configuration.get("labels");
        if (userLabels != null && userLabels.isObject()) {
            for (var e : userLabels.properties()) {
                if (!e.getValue().isNull()) {
                    labels.put(e.getKey(), PythonText.str(e.getValue()));
                }
            }
        }
        ObjectNode labelsNode = configuration.putObject("labels");
        labels.forEach(labelsNode::put);

        JsonNode name = configuration.get("name");
        String finalName = name != null && name.isTextual() && !name.asText().isBlank()
                ? renderContext(name.asText(), flow == null ? Map.of() : flow.fields(), flowRun.fields()) : run.name();
        if (finalName == null || finalName.isBlank()) {
            finalName = run.name();
        }
        configuration.put("name", finalName);

        JsonNode command = configuration.get("command");
        boolean missing = command == null || command.isNull()
                || (command.isTextual() && command.asText().isBlank())
                || (command.isArray() && command.isEmpty());
        if (missing) {
            configuration.put("command", DEFAULT_COMMAND);
        }
    }

    /**
     * {@code {{ ctx.flow.<field> }}} and {@code {{ ctx.flow_run.<field> }}} in the name; missing fields, and fields
     * that are lists or objects, become "".
     */
    static String renderContext(String name, Map<String, JsonNode> flow, Map<String, JsonNode> flowRun) {
        Matcher m = CTX.matcher(name);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            JsonNode value = (m.group(1).equals("flow") ? flow : flowRun).get(m.group(2));
            String text = value == null || value.isNull() ? "" : PythonText.str(value);
            m.appendReplacement(out, Matcher.quoteReplacement(text));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static void putIfSet(Map<String, String> map, String key, String value) {
        if (value != null) {
            map.put(key, value);
        }
    }
}
