package io.pworker.aci;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.testkit.DockerTestEngine;
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
import org.junit.jupiter.api.extension.RegisterExtension;

/** The whole worker with the ACI type against the Prefect API fake and the fake Resource Manager. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AciWorkerEndToEndTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(45);

    @RegisterExtension
    final FakeAzureExtension azure = new FakeAzureExtension();

    private FakePrefectServer prefect;
    private Worker worker;
    private String flowId;
    private String credentials;
    private final String pool = "aci-" + UUID.randomUUID().toString().substring(0, 8);
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    @BeforeEach
    void start() throws Exception {
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
        credentials = prefect.createBlockDocument("azure-container-instance-credentials", "aci", JSON.readTree(
                "{\"client_id\": \"" + AciTestRuns.CLIENT_ID + "\", \"tenant_id\": \"" + FakeAzure.TENANT
                        + "\", \"client_secret\": \"" + AciTestRuns.CLIENT_SECRET + "\"}"));
        worker = Worker.create(Settings.from(prefect.workerSettings("PWORKER_KILL_GRACE_SECONDS", "2")),
                WorkerOptions.of(pool, "azure-container-instance").withName("aw"),
                new PluginRegistry(List.of(new AciPlugin(azure.get().cloud()))), Map.of(),
                new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC());
        worker.start();
    }

    @AfterEach
    void stop() {
        if (worker != null) {
            worker.stop();
        }
        if (prefect != null) {
            prefect.close();
        }
    }

    private String deployment(String command) throws Exception {
        return prefect.createDeployment(flowId, "nightly", pool, JSON.readTree("""
                {"image": "%s", "resource_group_name": "rg-flows", "subscription_id": "sub-0001", "entrypoint": "",
                 "task_watch_poll_interval": 0.2, "stream_output": true, "command": %s,
                 "aci_credentials": {"$ref": {"block_document_id": "%s"}}}
                """.formatted(DockerTestEngine.IMAGE, JSON.writeValueAsString(command), credentials)));
    }

    private String group(String runId) {
        String pid = prefect.flowRun(runId).path("infrastructure_pid").asText("");
        return pid.isEmpty() ? null : pid.substring(pid.indexOf(':') + 1);
    }

    @Test
    void aRunThatExitsZeroIsReportedWithPrefectAzuresPidAndItsGroupIsDeleted() throws Exception {
        String id = prefect.createFlowRun(deployment("sh -c 'echo hello from $PREFECT__FLOW_RUN_ID'"), "{}");
        await(WAIT, () -> prefect.eventCount("prefect.worker.executed-flow-run") == 1, "executed-flow-run event");
        assertThat(prefect.flowRun(id).path("infrastructure_pid").asText()).isEqualTo(id + ":etl-" + id);
        await(WAIT, () -> !azure.get().exists("etl-" + id), "group deleted after the run");
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("[etl-" + id + "] hello from " + id);
        assertThat(prefect.logs().toString() + console).doesNotContain(AciTestRuns.CLIENT_SECRET);
        prefect.assertNoContractViolations();
    }

    @Test
    void aNonZeroExitCrashesTheRunWithTheCode() throws Exception {
        String id = prefect.createFlowRun(deployment("sh -c 'echo about to fail; exit 5'"), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("5");
        prefect.assertNoContractViolations();
    }

    @Test
    void aFailedDeploymentCrashesTheRunWithArmsMessage() throws Exception {
        String id = prefect.createFlowRun(deployment("true"), "{\"image\": \"pworker-test/not-there:1\"}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("InaccessibleImage");
        prefect.assertNoContractViolations();
    }

    @Test
    void cancellingDeletesTheGroupAndMarksTheRunCancelled() throws Exception {
        String id = prefect.createFlowRun(deployment("sleep 300"), "{}");
        await(WAIT, () -> group(id) != null, "group created");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "run cancelled");
        assertThat(azure.get().exists(group(id))).isFalse();
        prefect.assertNoContractViolations();
    }

    @Test
    void aGroupDeletedFromOutsideCrashesTheRun() throws Exception {
        String id = prefect.createFlowRun(deployment("sleep 300"), "{}");
        await(WAIT, () -> group(id) != null, "group created");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        azure.get().deleteFromOutside(group(id));
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("was deleted before the flow run finished");
        prefect.assertNoContractViolations();
    }
}
