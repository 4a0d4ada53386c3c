package io.pworker.cloudrun;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunLog;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/** What the launcher tests share: settings with short waits, a job configuration as the core renders it, a run log. */
final class CloudRunFixture {

    static final ObjectMapper JSON = new ObjectMapper();
    static final CloudRunSettings.Retry FAST = new CloudRunSettings.Retry(3, Duration.ofMillis(10), Duration.ofMillis(40));

    private CloudRunFixture() {
    }

    static CloudRunSettings settings(FakeCloudRun fake) {
        return new CloudRunSettings(fake.endpoint(), Duration.ofMillis(50), FAST, FAST, FAST, Duration.ofSeconds(3));
    }

    static PluginContext context(Map<String, String> env, Path stateDir) {
        return new PluginContext("cloudrun-test-worker", env, new PrintStream(new ByteArrayOutputStream(), true,
                StandardCharsets.UTF_8), Clock.systemUTC(), stateDir);
    }

    static FlowRunInfo run() {
        String id = UUID.randomUUID().toString();
        return new FlowRunInfo(id, "tidy-otter", UUID.randomUUID().toString(), "etl", UUID.randomUUID().toString(), "nightly",
                "cr-pool", "5f0c7a8e-1d7b-4a55-9a35-3c1b0f5c2a11", "cloudrun-test-worker", List.of());
    }

    /**
     * The default template rendered with its defaults, prepared by the core (env, prefect.io labels, name,
     * command) and given this run's credentials, then {@code overrides} merged at the top level.
     */
    static ObjectNode configuration(FlowRunInfo run, ObjectNode credentials, String overrides) {
        try {
            ObjectNode c = (ObjectNode) JSON.readTree("""
                    {"command": "prefect flow-run execute",
                     "env": {"PREFECT_API_URL": "http://127.0.0.1:4200/api", "PREFECT__FLOW_RUN_ID": "%1$s"},
                     "labels": {"prefect.io/flow-run-id": "%1$s", "prefect.io/flow-run-name": "%2$s",
                       "prefect.io/version": "3.4.25", "prefect.io/work-pool-name": "%3$s",
                       "prefect.io/work-pool-id": "%4$s", "prefect.io/worker-name": "%5$s"},
                     "name": "%2$s",
                     "job_body": {"client": "prefect", "launchStage": "BETA",
                       "template": {"template": {"maxRetries": 0, "timeout": 600, "vpcAccess": {},
                         "containers": [{"env": [], "image": "prefecthq/prefect:3-latest", "args": [],
                           "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}}}]}}},
                     "keep_job": false, "region": "us-central1", "timeout": 600}
                    """.formatted(run.id(), run.name(), run.workPoolName(), run.workPoolId(), run.workerName()));
            c.set("credentials", credentials);
            c.setAll((ObjectNode) JSON.readTree(overrides));
            return c;
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** The credentials block as the core resolves it: the key, no project (the key's is used). */
    static ObjectNode credentials(ServiceAccountKey key, FakeCloudRun fake) {
        ObjectNode block = JSON.createObjectNode();
        block.set("service_account_info", key.info(fake.tokenUri()));
        block.putNull("service_account_file");
        block.putNull("project");
        return block;
    }

    /** A run log that keeps its lines for assertions. */
    static final class Lines implements RunLog {
        final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public void info(String message) {
            lines.add("INFO " + message);
        }

        @Override
        public void warn(String message) {
            lines.add("WARN " + message);
        }

        @Override
        public void error(String message, Throwable cause) {
            lines.add("ERROR " + message + (cause == null ? "" : " " + cause));
        }

        String all() {
            return String.join("\n", lines);
        }
    }
}
