package io.pworker.process;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.worker.PluginRegistry;
import io.pworker.worker.Worker;
import io.pworker.worker.WorkerOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The whole worker against the Prefect API fake, launching real subprocesses. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessWorkerEndToEndTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private FakePrefectServer prefect;
    private final List<Worker> workers = new ArrayList<>();
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private String flowId;

    @BeforeEach
    void startPrefect() {
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
    }

    @AfterEach
    void stopAll() {
        workers.forEach(Worker::stop);
        prefect.close();
    }

    private Map<String, String> settings(String... extra) {
        Map<String, String> s = prefect.workerSettings(extra);
        s.putIfAbsent("PWORKER_KILL_GRACE_SECONDS", "3");
        return s;
    }

    private Worker start(WorkerOptions options, Map<String, String> settings) throws Exception {
        Map<String, String> env = new HashMap<>(Map.of("PATH", System.getenv("PATH"), "DIR", dir.toString()));
        Worker worker = Worker.create(Settings.from(settings), options, new PluginRegistry(List.of(new ProcessPlugin())),
                env, new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC());
        workers.add(worker);
        worker.start();
        return worker;
    }

    private Worker start() throws Exception {
        return start(WorkerOptions.of("pool", "process").withName("w1"), settings());
    }

    private String deployment(String jobVariables) throws Exception {
        return prefect.createDeployment(flowId, "nightly", "pool", JSON.readTree(jobVariables));
    }

    @Test
    void aRunThatExitsZeroIsClaimedLaunchedAndLeftToItsEngine() throws Exception {
        start();
        String dep = deployment("{\"command\":\"sh -c 'echo hello from $PREFECT__FLOW_RUN_ID'\"}");
        String id = prefect.createFlowRun(dep, "{}");
        await(WAIT, () -> prefect.events().stream().anyMatch(e -> e.path("event").asText()
                .equals("prefect.worker.executed-flow-run")), "executed-flow-run event");
        JsonNode run = prefect.flowRun(id);
        assertThat(run.path("state_type").asText()).isEqualTo("PENDING");
        assertThat(run.path("infrastructure_pid").asText()).matches("\\d+");
        assertThat(run.path("labels").path("prefect.worker.name").asText()).isEqualTo("w1");
        assertThat(run.path("labels").path("prefect.worker.type").asText()).isEqualTo("process");
        // the fake plays a 3.4 server, which would abort "Submitting", so it is not proposed
        assertThat(prefect.stateProposals(id)).extracting(p -> p.path("state").path("name").asText())
                .containsExactly("Pending");
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("hello from " + id);
        JsonNode executed = prefect.events().stream()
                .filter(e -> e.path("event").asText().equals("prefect.worker.executed-flow-run")).findFirst().orElseThrow();
        assertThat(executed.toString()).contains("\"prefect.infrastructure.status-code\":\"0\"");
        await(WAIT, () -> prefect.logs().stream().anyMatch(l -> l.path("message").asText()
                .contains("submitting flow run '" + id + "'")), "flow-run log shipped");
        prefect.assertNoContractViolations();
    }

    @Test
    void aNonZeroExitCrashesTheRunWithTheCode() throws Exception {
        start();
        String id = prefect.createFlowRun(deployment("{\"command\":\"sh -c 'exit 3'\"}"), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("non-zero status code 3");
        prefect.assertNoContractViolations();
    }

    @Test
    void cancellingARunningFlowStopsItsProcessGroupAndMarksItCancelled() throws Exception {
        start();
        Path childPid = dir.resolve("child.pid");
        String id = prefect.createFlowRun(deployment("{\"command\":\"sh -c 'trap \\\"\\\" TERM; sleep 300 & echo $! > " + childPid
                + "; wait; sleep 300'\"}"), "{}");
        await(WAIT, () -> Files.exists(childPid) && !read(childPid).isEmpty()
                && !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "flow process started");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        long child = Long.parseLong(read(childPid));
        long leader = Long.parseLong(prefect.flowRun(id).path("infrastructure_pid").asText());
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "run cancelled");
        // ended: a detached wrapper may stay a zombie until init collects it, which the JDK counts as alive
        assertThat(ProcessTests.alive(leader)).isFalse();
        await(WAIT, () -> !ProcessTests.alive(child), "child process gone");
        prefect.assertNoContractViolations();
    }

    @Test
    void cancellationStillWorksWhenTheEventSocketIsRefused() throws Exception {
        prefect.setEventsSocketEnabled(false);
        start();
        String id = prefect.createFlowRun(deployment("{\"command\":\"sleep 300\"}"), "{}");
        await(WAIT, () -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "launched");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "run cancelled by polling");
        assertThat(prefect.requests()).anyMatch(r -> r.path().endsWith("/flow_runs/filter"));
        prefect.assertNoContractViolations();
    }

    @Test
    void aJobVariableThatBreaksTheSchemaCrashesThatRunAndTheWorkerGoesOn() throws Exception {
        start();
        String dep = deployment("{\"command\":\"true\"}");
        String bad = prefect.createFlowRun(dep, "{\"stream_output\":\"yes\"}");
        await(WAIT, () -> prefect.stateType(bad).equals("CRASHED"), "bad run crashed");
        assertThat(prefect.stateMessage(bad)).contains("stream_output");
        String good = prefect.createFlowRun(dep, "{}");
        await(WAIT, () -> !prefect.flowRun(good).path("infrastructure_pid").asText("").isEmpty(), "good run launched");
        prefect.assertNoContractViolations();
    }

    @Test
    void aLimitOfTwoNeverRunsMoreThanTwoProcesses() throws Exception {
        start(WorkerOptions.of("pool", "process").withName("limited").withLimit(2), settings());
        String dep = deployment("{\"command\":\"sh -c 'touch $DIR/live-$PREFECT__FLOW_RUN_ID; sleep 1; "
                + "rm $DIR/live-$PREFECT__FLOW_RUN_ID; touch $DIR/done-$PREFECT__FLOW_RUN_ID'\"}");
        for (int i = 0; i < 5; i++) {
            prefect.createFlowRun(dep, "{}");
        }
        AtomicInteger max = new AtomicInteger();
        await(WAIT, () -> {
            max.accumulateAndGet(count("live-"), Math::max);
            return count("done-") == 5;
        }, "five runs done");
        assertThat(max.get()).isBetween(1, 2);
        prefect.assertNoContractViolations();
    }

    @Test
    void twoWorkersOnOnePoolLaunchEachRunExactlyOnce() throws Exception {
        start(WorkerOptions.of("pool", "process").withName("a"), settings());
        start(WorkerOptions.of("pool", "process").withName("b"), settings());
        String dep = deployment("{\"command\":\"sh -c 'echo $PREFECT__WORKER_NAME >> $DIR/launch-$PREFECT__FLOW_RUN_ID'\","
                + "\"stream_output\":false}");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            ids.add(prefect.createFlowRun(dep, "{}"));
        }
        await(Duration.ofSeconds(60), () -> ids.stream().allMatch(id -> Files.exists(dir.resolve("launch-" + id))),
                "all 50 runs launched");
        // every launch ends with one executed event; a duplicate launch would add a 51st and a second line
        await(Duration.ofSeconds(60), () -> executedEvents() >= 50, "50 executed events");
        assertThat(executedEvents()).isEqualTo(50);
        for (String id : ids) {
            assertThat(Files.readAllLines(dir.resolve("launch-" + id))).as("launches of " + id).hasSize(1);
        }
        prefect.assertNoContractViolations();
    }

    @Test
    void healthIsOkWhilePollingAnd503WhenTheApiStopsAnswering() throws Exception {
        Worker w = start(WorkerOptions.of("pool", "process").withName("h").withHealthcheck(true),
                // the poll interval has a 1 s floor, so /health turns 503 30 s after the last successful poll
                settings("PREFECT_WORKER_QUERY_SECONDS", "1", "PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1",
                        "PREFECT_WORKER_WEBSERVER_PORT", "0", "PREFECT_CLIENT_MAX_RETRIES", "0"));
        HttpClient http = HttpClient.newHttpClient();
        URI health = URI.create("http://127.0.0.1:" + w.healthPort() + "/health");
        HttpResponse<String> ok = http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("{\"message\":\"OK\"}");
        prefect.setAvailable(false);
        await(Duration.ofSeconds(60), () -> {
            try {
                return http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.ofString())
                        .statusCode() == 503;
            } catch (Exception e) {
                return false;
            }
        }, "health turns 503");
        HttpResponse<String> bad = http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(bad.body()).isEqualTo("{\"message\":\"Worker may be unresponsive at this time\"}");
    }

    @Test
    void aRunOfADeletedDeploymentIsCancelledAndFreesItsSlot() throws Exception {
        start(WorkerOptions.of("pool", "process").withName("one").withLimit(1), settings());
        String dep = deployment("{\"command\":\"true\"}");
        String orphan = prefect.createFlowRun(dep, "{}");
        prefect.deleteDeployment(dep);
        await(WAIT, () -> prefect.stateType(orphan).equals("CANCELLED"), "orphan cancelled");
        assertThat(prefect.stateMessage(orphan)).contains("no longer exists");
        String next = prefect.createFlowRun(deployment("{\"command\":\"true\"}"), "{}");
        await(WAIT, () -> !prefect.flowRun(next).path("infrastructure_pid").asText("").isEmpty(), "next run launched");
    }

    @Test
    void shutdownStopsRunningProcessesReportsThemAndEmitsStopped() throws Exception {
        Worker w = start();
        String id = prefect.createFlowRun(deployment("{\"command\":\"sleep 300\"}"), "{}");
        await(WAIT, () -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "launched");
        long pid = Long.parseLong(prefect.flowRun(id).path("infrastructure_pid").asText());
        w.stop();
        assertThat(ProcessTests.alive(pid)).isFalse();
        assertThat(prefect.stateType(id)).isEqualTo("CRASHED");
        assertThat(prefect.stateMessage(id)).contains("was stopped");
        await(WAIT, () -> prefect.events().stream().anyMatch(e -> e.path("event").asText().equals("prefect.worker.stopped")),
                "stopped event");
        assertThat(prefect.events().getFirst().path("event").asText()).isEqualTo("prefect.worker.started");
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("Worker 'w1' stopped!");
        prefect.assertNoContractViolations();
    }

    @Test
    void createsTheMissingPoolWithTheDefaultTemplate() throws Exception {
        start();
        JsonNode pool = prefect.workPool("pool");
        assertThat(pool.path("type").asText()).isEqualTo("process");
        assertThat(pool.path("base_job_template").path("variables").path("properties").has("working_dir")).isTrue();
        await(WAIT, () -> !prefect.heartbeats().isEmpty(), "heartbeat");
        assertThat(prefect.heartbeats().getFirst().path("name").asText()).isEqualTo("w1");
        prefect.assertNoContractViolations();
    }

    private long executedEvents() {
        return prefect.eventCount("prefect.worker.executed-flow-run");
    }

    private int count(String prefix) {
        try (Stream<Path> files = Files.list(dir)) {
            return (int) files.filter(p -> p.getFileName().toString().startsWith(prefix)).count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
