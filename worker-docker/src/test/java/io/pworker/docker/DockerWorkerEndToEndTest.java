package io.pworker.docker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.model.Container;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The whole worker with the docker type against the Prefect API fake and a real Docker engine. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DockerWorkerEndToEndTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(45);

    private DockerTestEngine engine;
    private FakePrefectServer prefect;
    private Worker worker;
    private String flowId;
    /** Unique per test, so containers of this test can be found by their work-pool label. */
    private final String pool = "docker-" + UUID.randomUUID().toString().substring(0, 8);
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    @BeforeEach
    void start() {
        engine = DockerTestEngine.get();
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
    }

    @AfterEach
    void stop() {
        if (worker != null) {
            worker.stop();
        }
        if (prefect != null) {
            prefect.close();
        }
        if (engine != null) {
            for (Container c : containers(false)) {
                engine.client().removeContainerCmd(c.getId()).withForce(true).exec();
            }
        }
    }

    private void startWorker(Integer limit) throws Exception {
        startWorker(limit, engine.host());
    }

    private void startWorker(Integer limit, String dockerHost) throws Exception {
        Map<String, String> settings = prefect.workerSettings("PWORKER_KILL_GRACE_SECONDS", "2");
        WorkerOptions options = WorkerOptions.of(pool, "docker").withName("dw");
        if (limit != null) {
            options = options.withLimit(limit);
        }
        worker = Worker.create(Settings.from(settings), options, new PluginRegistry(List.of(new DockerPlugin())),
                Map.of("DOCKER_HOST", dockerHost), new PrintStream(console, true, StandardCharsets.UTF_8),
                Clock.systemUTC());
        worker.start();
    }

    /** A deployment whose containers use the local test image (no registry is reachable). */
    private String deployment(String command) throws Exception {
        return prefect.createDeployment(flowId, "nightly", pool, JSON.readTree("{\"image\": \"" + DockerTestEngine.IMAGE
                + "\", \"image_pull_policy\": \"Never\", \"command\": " + JSON.writeValueAsString(command) + "}"));
    }

    private String containerId(String runId) {
        String pid = prefect.flowRun(runId).path("infrastructure_pid").asText("");
        return pid.isEmpty() ? null : pid.substring(pid.lastIndexOf(':') + 1);
    }

    private List<Container> containers(boolean runningOnly) {
        return engine.client().listContainersCmd().withShowAll(!runningOnly)
                .withLabelFilter(Map.of("io.prefect.work-pool-name", pool)).exec();
    }

    private long executed() {
        return prefect.eventCount("prefect.worker.executed-flow-run");
    }

    @Test
    void aContainerThatExitsZeroIsLeftToTheEnginesReport() throws Exception {
        startWorker(null);
        String id = prefect.createFlowRun(deployment("sh -c 'echo hello from $PREFECT__FLOW_RUN_ID'"), "{}");
        await(WAIT, () -> executed() == 1, "executed-flow-run event");
        JsonNode run = prefect.flowRun(id);
        assertThat(run.path("state_type").asText()).isEqualTo("PENDING");
        assertThat(run.path("infrastructure_pid").asText()).matches("http\\+docker://localhost:[0-9a-f]{64}");
        var inspected = engine.client().inspectContainerCmd(containerId(id)).exec();
        assertThat(inspected.getConfig().getLabels()).containsEntry("io.prefect.flow-run-id", id)
                .containsEntry("io.prefect.work-pool-name", pool).containsEntry("io.prefect.worker-name", "dw");
        assertThat(inspected.getConfig().getEnv()).contains("PREFECT__FLOW_RUN_ID=" + id,
                "PREFECT_API_URL=" + prefect.apiUrl());
        // the local API is reached through the host's network, as Prefect arranges on Linux
        assertThat(inspected.getHostConfig().getNetworkMode()).isEqualTo("host");
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("hello from " + id);
        prefect.assertNoContractViolations();
    }

    @Test
    void exitFiveCrashesTheRunWithTheCode() throws Exception {
        startWorker(null);
        String id = prefect.createFlowRun(deployment("sh -c 'exit 5'"), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("non-zero status code 5");
        // the container's events reach Prefect with the run among their related resources
        JsonNode exited = prefect.events().stream()
                .filter(e -> e.path("event").asText().equals("prefect.docker.container.exited")).findFirst().orElseThrow();
        assertThat(exited.path("resource").path("prefect.resource.id").asText())
                .isEqualTo("prefect.docker.container." + containerId(id));
        assertThat(exited.path("related").findValuesAsText("prefect.resource.id")).contains("prefect.flow-run." + id);
        prefect.assertNoContractViolations();
    }

    @Test
    void cancellingStopsAContainerThatIgnoresSigtermAndMarksTheRunCancelled() throws Exception {
        startWorker(null);
        String id = prefect.createFlowRun(deployment("sh -c 'trap \"\" TERM; while true; do sleep 1; done'"), "{}");
        await(WAIT, () -> containerId(id) != null, "container started");
        // a stop that lands a few milliseconds after the start was seen to end the container with 2, not 137:
        // let the shell get as far as its trap first
        await(WAIT, () -> engine.client().inspectContainerCmd(containerId(id)).exec().getState().getRunning(), "running");
        Thread.sleep(500);
        prefect.setFlowRunState(id, "RUNNING", "Running");
        long start = System.nanoTime();
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "run cancelled");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        assertThat(seconds).as("grace 2 s plus a few").isLessThan(12);
        var state = engine.client().inspectContainerCmd(containerId(id)).exec().getState();
        assertThat(state.getRunning()).isFalse();
        assertThat(state.getExitCodeLong()).isEqualTo(137L);
        prefect.assertNoContractViolations();
    }

    @Test
    void alwaysPullingFromAnUnreachableRegistryCrashesTheRunWithTheRegistryError() throws Exception {
        startWorker(null);
        String id = prefect.createFlowRun(deployment("true"), "{\"image\": \"127.0.0.1:1/flows:1\", \"image_pull_policy\": \"Always\"}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("cannot pull image '127.0.0.1:1/flows:1'").contains("127.0.0.1:1");
        String next = prefect.createFlowRun(deployment("true"), "{}");
        await(WAIT, () -> containerId(next) != null, "the worker goes on");
        prefect.assertNoContractViolations();
    }

    @Test
    void aContainerRemovedFromOutsideCrashesTheRunSayingItDisappeared() throws Exception {
        startWorker(null);
        String id = prefect.createFlowRun(deployment("sleep 60"), "{}");
        await(WAIT, () -> containerId(id) != null, "container started");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        engine.client().removeContainerCmd(containerId(id)).withForce(true).exec();
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("disappeared");
        prefect.assertNoContractViolations();
    }

    @Test
    void twentyRunsWithALimitOfFiveNeverRunMoreThanFiveContainers() throws Exception {
        startWorker(5);
        String dep = deployment("sleep 1");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ids.add(prefect.createFlowRun(dep, "{}"));
        }
        AtomicInteger max = new AtomicInteger();
        await(Duration.ofSeconds(90), () -> {
            max.accumulateAndGet(containers(true).size(), Math::max);
            return executed() == 20;
        }, "twenty runs executed");
        assertThat(max.get()).isBetween(2, 5);
        assertThat(containers(false)).hasSize(20);
        prefect.assertNoContractViolations();
    }

    @Test
    void registryCredentialsFromABlockReachTheRegistryAndNeverTheLogs() throws Exception {
        try (FakeRegistry registry = new FakeRegistry()) {
            startWorker(null);
            String block = prefect.createBlockDocument("docker-registry-credentials", "private-registry", JSON.readTree(
                    "{\"username\": \"robot\", \"password\": \"pw-7f3a9c\", \"registry_url\": \"" + registry.address()
                            + "\", \"reauth\": true}"));
            String image = registry.address() + "/team/flows:1";
            String id = prefect.createFlowRun(deployment("true"), "{\"image\": \"" + image + "\", \"image_pull_policy\": \"Always\","
                    + " \"registry_credentials\": {\"$ref\": {\"block_document_id\": \"" + block + "\"}}}");
            await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
            String basic = "Basic " + java.util.Base64.getEncoder().encodeToString("robot:pw-7f3a9c".getBytes(StandardCharsets.UTF_8));
            assertThat(registry.authorizations).contains(basic);
            assertThat(prefect.stateMessage(id)).contains("cannot pull image '" + image + "'").doesNotContain("pw-7f3a9c");
            await(WAIT, () -> prefect.logs().stream().anyMatch(l -> l.path("flow_run_id").asText().equals(id)), "logs shipped");
            assertThat(prefect.logs().toString()).doesNotContain("pw-7f3a9c");
            assertThat(console.toString(StandardCharsets.UTF_8)).doesNotContain("pw-7f3a9c");
            prefect.assertNoContractViolations();
        }
    }

    @Test
    void runsWatchedThroughAnEngineThatGoesAwayCrashAndTheWorkerGoesOnPolling() throws Exception {
        SocketProxy proxy = SocketProxy.toUnixSocket(java.nio.file.Path.of(engine.host().substring("unix://".length())));
        try {
            startWorker(null, "tcp://127.0.0.1:" + proxy.port());
            String id = prefect.createFlowRun(deployment("sleep 60"), "{}");
            await(WAIT, () -> containerId(id) != null, "container started");
            prefect.setFlowRunState(id, "RUNNING", "Running");
            assertThat(prefect.flowRun(id).path("infrastructure_pid").asText()).startsWith("http://127.0.0.1:" + proxy.port() + ":");
            proxy.close();
            // the worker retries the watch with back-off for about half a minute before it gives up on the run
            await(Duration.ofSeconds(90), () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
            assertThat(prefect.stateMessage(id)).startsWith("The worker lost track of the flow run's infrastructure").contains("lost the Docker engine")
                    .doesNotContain("status code -1");
            int heartbeats = prefect.heartbeats().size();
            await(WAIT, () -> prefect.heartbeats().size() > heartbeats, "the worker still heartbeats");
        } finally {
            proxy.close();
        }
    }

    @Test
    void stoppingTheWorkerLeavesRunningContainersToFinishOnTheirOwn() throws Exception {
        startWorker(null);
        String id = prefect.createFlowRun(deployment("sleep 60"), "{}");
        await(WAIT, () -> containerId(id) != null, "container started");
        worker.stop();
        worker = null;
        assertThat(engine.client().inspectContainerCmd(containerId(id)).exec().getState().getRunning()).isTrue();
        assertThat(prefect.stateType(id)).isEqualTo("PENDING");
    }
}
