package io.pworker.cloudrun;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.worker.PluginRegistry;
import io.pworker.worker.Worker;
import io.pworker.worker.WorkerOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The whole worker with the {@code cloud-run-v2} type against the Prefect API fake and the fake Cloud Run API,
 * whose executions run as containers on the real Docker engine: the plugin is found and configured the way the
 * worker does it in production (its environment names the endpoint), the credentials come from a
 * {@code gcp-credentials} block, and what Cloud Run reports ends up as the flow run's state.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CloudRunWorkerEndToEndTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(45);
    private static final ServiceAccountKey KEY = ServiceAccountKey.generate();

    private FakeCloudRun cloudRun;
    private FakePrefectServer prefect;
    private Worker worker;
    private String flowId;
    private String credentials;
    private final String pool = "cr-" + UUID.randomUUID().toString().substring(0, 8);
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    @BeforeEach
    void start() throws Exception {
        cloudRun = FakeCloudRun.start(new DockerRunner(DockerTestEngine.get()), KEY.keys().getPublic());
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
        ObjectNode block = CloudRunFixture.credentials(KEY, cloudRun);
        block.remove("service_account_file");
        block.remove("project");
        credentials = prefect.createBlockDocument("gcp-credentials", "gcp", block);
        Map<String, String> environment = Map.of(
                "PWORKER_CLOUD_RUN_ENDPOINT", cloudRun.endpoint(),
                "PWORKER_CLOUD_RUN_POLL_SECONDS", "0.2",
                "PREFECT_INTEGRATIONS_GCP_CLOUD_RUN_V2_WORKER_CREATE_JOB_INITIAL_DELAY_SECONDS", "0.05",
                "PREFECT_INTEGRATIONS_GCP_CLOUD_RUN_V2_WORKER_SUBMIT_JOB_INITIAL_DELAY_SECONDS", "0.05",
                "PREFECT_INTEGRATIONS_GCP_CLOUD_RUN_V2_WORKER_API_READ_RETRY_INITIAL_DELAY_SECONDS", "0.05");
        worker = Worker.create(Settings.from(prefect.workerSettings("PWORKER_KILL_GRACE_SECONDS", "2")),
                WorkerOptions.of(pool, "cloud-run-v2").withName("cw"),
                new PluginRegistry(List.of(new CloudRunPlugin())), environment,
                new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC());
        worker.start();
    }

    @AfterEach
    void stop() {
        try {
            if (worker != null) {
                worker.stop();
            }
        } finally {
            if (prefect != null) {
                prefect.close();
            }
            if (cloudRun != null) {
                cloudRun.close();
            }
        }
        String everything = console.toString(StandardCharsets.UTF_8) + (prefect == null ? "" : prefect.logs().toString());
        assertThat(everything).as("the private key never reaches a log").doesNotContain(KEY.secretPart());
    }

    private String deployment(String command) throws Exception {
        return prefect.createDeployment(flowId, "nightly", pool, JSON.readTree("""
                {"image": "us-docker.pkg.dev/demo-project/flows/etl:1", "region": "us-central1",
                 "command": %s, "credentials": {"$ref": {"block_document_id": "%s"}}}
                """.formatted(JSON.writeValueAsString(command), credentials)));
    }

    private String job(String runId) {
        String pid = prefect.flowRun(runId).path("infrastructure_pid").asText("");
        return pid.isEmpty() ? null : pid;
    }

    private String jobName(String runId) {
        return "projects/" + ServiceAccountKey.PROJECT + "/locations/us-central1/jobs/" + job(runId);
    }

    private boolean executing(String runId) {
        String job = job(runId);
        return job != null && cloudRun.executions().stream()
                .anyMatch(e -> e.getName().startsWith(jobName(runId) + "/executions/") && e.getRunningCount() > 0);
    }

    @Test
    void aRunThatExitsZeroIsLeftToTheEnginesReportAndItsJobIsDeleted() throws Exception {
        String id = prefect.createFlowRun(deployment("sh -c 'test -n \"$PREFECT__FLOW_RUN_ID\" || exit 9'"), "{}");
        await(WAIT, () -> prefect.eventCount("prefect.worker.executed-flow-run") == 1, "executed-flow-run event");
        String hex = id.replace("-", "").substring(0, 7);
        assertThat(job(id)).endsWith("-" + hex);
        await(WAIT, () -> cloudRun.jobs().isEmpty() && cloudRun.executions().isEmpty(), "job and execution deleted");
        assertThat(prefect.stateType(id)).as("the engine in the container reports the end, not the worker")
                .isEqualTo("PENDING");
        assertThat(cloudRun.createdBodies()).singleElement().satisfies(j -> assertThat(j.getLabelsMap())
                .containsEntry("prefect_io_flow-run-id", id));
        assertThat(cloudRun.tokenIssued()).isTrue();
        prefect.assertNoContractViolations();
    }

    @Test
    void aNonZeroExitCrashesTheRunWithTheCode() throws Exception {
        String id = prefect.createFlowRun(deployment("sh -c 'echo about to fail; exit 5'"), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("exited with code 5");
        await(WAIT, () -> cloudRun.jobs().isEmpty(), "job deleted after the run");
        prefect.assertNoContractViolations();
    }

    @Test
    void aJobThatCannotBeCreatedCrashesTheRunWithTheReason() throws Exception {
        cloudRun.jobsNotReady(com.google.cloud.run.v2.Condition.CommonReason.CONTAINER_MISSING);
        String id = prefect.createFlowRun(deployment("true"), "{\"image\": \"pworker-test/not-there:1\"}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("did not become ready")
                .contains("its image cannot be found (pworker-test/not-there:1)");
        assertThat(cloudRun.jobs()).as("the job that is not ready is deleted").isEmpty();
        assertThat(cloudRun.count("POST", ":run$")).isZero();
        prefect.assertNoContractViolations();
    }

    @Test
    void cancellingDeletesExecutionsAndJobAndMarksTheRunCancelled() throws Exception {
        String id = prefect.createFlowRun(deployment("sleep 300"), "{}");
        await(WAIT, () -> executing(id), "execution running");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "run cancelled");
        assertThat(cloudRun.jobs()).isEmpty();
        assertThat(cloudRun.executions()).isEmpty();
        List<String> deletes = cloudRun.requests().stream().filter(r -> r.startsWith("DELETE")).toList();
        assertThat(deletes).as("the executions go first, then the job").hasSizeGreaterThanOrEqualTo(2);
        assertThat(deletes.get(0)).contains("/executions/");
        assertThat(deletes).last().satisfies(d -> assertThat(d).endsWith("/jobs/" + job(id)));
        prefect.assertNoContractViolations();
    }

    @Test
    void anExecutionDeletedFromOutsideCrashesTheRun() throws Exception {
        String id = prefect.createFlowRun(deployment("sleep 300"), "{}");
        await(WAIT, () -> executing(id), "execution running");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        String execution = cloudRun.executions().stream().map(e -> e.getName())
                .filter(n -> n.startsWith(jobName(id) + "/executions/")).findFirst().orElseThrow();
        cloudRun.deleteExecutionFromOutside(execution);
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("was deleted before it finished");
        prefect.assertNoContractViolations();
    }
}
