package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.template.JobTemplateRenderer;
import io.pworker.template.PlaceholderResolver;
import io.pworker.template.TemplateException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Job configurations as the core hands them to the launcher: the plugin's default template rendered by the core's
 * renderer with job variables, then the core's common preparation (env, {@code prefect.io/*} labels, name,
 * command) done the way worker-core's JobPreparation does it.
 */
final class Rendered {

    static final String PREFECT_VERSION = "3.4.25";

    private Rendered() {
    }

    static ObjectNode configuration(FlowRunInfo run, ObjectNode variables) {
        ObjectNode c;
        try {
            c = new JobTemplateRenderer(Map.of()).render(new KubernetesPlugin().defaultBaseJobTemplate(), variables,
                    new PlaceholderResolver() {
                        @Override
                        public JsonNode blockDocument(String id) throws TemplateException {
                            throw new TemplateException("no blocks here");
                        }

                        @Override
                        public JsonNode block(String type, String name) throws TemplateException {
                            throw new TemplateException("no blocks here");
                        }

                        @Override
                        public Optional<JsonNode> variable(String name) {
                            return Optional.empty();
                        }
                    });
        } catch (TemplateException e) {
            throw new IllegalStateException(e);
        }
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PREFECT_API_URL", "http://127.0.0.1:4200/api");
        env.put("PREFECT__FLOW_RUN_ID", run.id());
        env.put("PREFECT__WORKER_NAME", run.workerName());
        if (c.get("env") instanceof ObjectNode rendered) {
            rendered.properties().forEach(e -> env.put(e.getKey(), e.getValue().asText()));
        }
        ObjectNode envNode = c.putObject("env");
        env.forEach(envNode::put);
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("prefect.io/flow-run-id", run.id());
        labels.put("prefect.io/flow-run-name", run.name());
        labels.put("prefect.io/version", PREFECT_VERSION);
        labels.put("prefect.io/work-pool-name", run.workPoolName());
        labels.put("prefect.io/work-pool-id", run.workPoolId());
        labels.put("prefect.io/worker-name", run.workerName());
        if (c.get("labels") instanceof ObjectNode rendered) {
            rendered.properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
        }
        ObjectNode labelsNode = c.putObject("labels");
        labels.forEach(labelsNode::put);
        if (!c.path("name").isTextual() || c.get("name").asText().isBlank()) {
            c.put("name", run.name());
        }
        if (!c.hasNonNull("command")) {
            c.put("command", "prefect flow-run execute");
        }
        return c;
    }

    /** {@code sh -c 'script'} as one command line, quoted for any script. */
    static String shell(String script) {
        return "sh -c '" + script.replace("'", "'\"'\"'") + "'";
    }
}
