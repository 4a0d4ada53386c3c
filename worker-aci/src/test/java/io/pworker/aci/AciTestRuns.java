package io.pworker.aci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.PluginContext;
import io.pworker.template.JobTemplateRenderer;
import io.pworker.template.PlaceholderResolver;
import io.pworker.template.TemplateException;
import io.pworker.testkit.DockerTestEngine;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;

/** Job configurations as the core renders them from the plugin's default template, for the launcher tests. */
final class AciTestRuns {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CLIENT_ID = "3f0c1a9e-0000-4000-8000-0000000000c1";
    static final String CLIENT_SECRET = "aci-secret-5d9e7b";
    static final String API_KEY = "pnu_api-key-8c4f1e";

    private AciTestRuns() {
    }

    /**
     * The default template rendered with {@code variables} over test defaults (the local busybox image, no
     * entrypoint, a fast poll, a service principal), then Prefect's common preparation as the core does it.
     */
    static ObjectNode configuration(FlowRunInfo run, String variables) {
        try {
            ObjectNode vars = (ObjectNode) JSON.readTree("""
                    {"image": "%s", "resource_group_name": "rg-flows", "subscription_id": "sub-0001", "entrypoint": "",
                     "task_watch_poll_interval": 0.2, "task_start_timeout_seconds": 60,
                     "aci_credentials": {"client_id": "%s", "tenant_id": "%s", "client_secret": "%s"}}
                    """.formatted(DockerTestEngine.IMAGE, CLIENT_ID, FakeAzure.TENANT, CLIENT_SECRET));
            vars.setAll((ObjectNode) JSON.readTree(variables));
            ObjectNode c = new JobTemplateRenderer(Map.of()).render(new AciPlugin().defaultBaseJobTemplate(), vars,
                    new NoBlocks());
            ObjectNode env = c.with("env");
            env.put("PREFECT__FLOW_RUN_ID", run.id()).put("PREFECT_API_URL", "http://127.0.0.1:4200/api")
                    .put("PREFECT_API_KEY", API_KEY);
            c.putObject("labels").put("prefect.io/flow-run-id", run.id()).put("prefect.io/version", "3.4.25");
            c.put("name", run.name());
            if (!c.hasNonNull("command")) {
                c.put("command", "prefect flow-run execute");
            }
            return c;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static PluginContext context(Map<String, String> environment, PrintStream console) {
        return new PluginContext("aci-test-worker", environment, console, Clock.systemUTC(),
                Path.of(System.getProperty("java.io.tmpdir")));
    }

    private static final class NoBlocks implements PlaceholderResolver {
        @Override
        public JsonNode blockDocument(String blockDocumentId) throws TemplateException {
            throw new TemplateException("no blocks in these tests");
        }

        @Override
        public JsonNode block(String typeSlug, String documentName) throws TemplateException {
            throw new TemplateException("no blocks in these tests");
        }

        @Override
        public Optional<JsonNode> variable(String name) {
            return Optional.empty();
        }
    }
}
