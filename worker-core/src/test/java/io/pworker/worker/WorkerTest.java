package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ch.qos.logback.classic.Level;
import io.pworker.LogCapture;
import io.pworker.settings.Settings;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.RecordedRequest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The core worker against the Prefect API fake with an in-memory plugin. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WorkerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(20);

    private FakePrefectServer prefect;
    private StubPlugin stub;
    private final List<Worker> workers = new ArrayList<>();
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private String flowId;

    @BeforeEach
    void setUp() {
        prefect = FakePrefectServer.start();
        stub = new StubPlugin();
        flowId = prefect.createFlow("etl");
    }

    @AfterEach
    void tearDown() {
        workers.forEach(Worker::stop);
        prefect.close();
    }

    private Map<String, String> settings(String... extra) {
        Map<String, String> s = prefect.workerSettings(extra);
        s.putIfAbsent("PREFECT_CLIENT_MAX_RETRIES", "2");
        return s;
    }

    private Worker create(WorkerOptions options, Map<String, String> settings, StubPlugin plugin) throws Exception {
        Worker w = Worker.create(Settings.from(settings), options, new PluginRegistry(List.of(plugin)),
                Map.of("HOME_DIR", "/home/w"), new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC());
        workers.add(w);
        return w;
    }

    private Worker start() throws Exception {
        Worker w = create(WorkerOptions.of("pool", "stub").withName("w1"), settings(), stub);
        w.start();
        return w;
    }

    private String deployment(String jobVariables) throws Exception {
        return prefect.createDeployment(flowId, "nightly", "pool", JSON.readTree(jobVariables));
    }

    @Test
    void anUnknownTypeIsRefusedWithTheInstalledTypes() {
        assertThatThrownBy(() -> create(WorkerOptions.of("pool", "kubernetes"), settings(), stub))
                .isInstanceOf(WorkerException.class)
                .hasMessageContaining("'kubernetes'").hasMessageContaining("installed types: stub");
    }

    @Test
    void thePoolsTypeIsUsedWhenNoTypeIsGivenAndRefusedWhenNotInstalled() throws Exception {
        prefect.createWorkPool("k8s-pool", "kubernetes", JSON.readTree("{}"));
        assertThatThrownBy(() -> create(WorkerOptions.of("k8s-pool", null), settings(), stub))
                .hasMessageContaining("work pool 'k8s-pool' has type 'kubernetes'")
                .hasMessageContaining("installed types: stub");
        prefect.createWorkPool("stub-pool", "stub", JSON.readTree("{}"));
        assertThat(create(WorkerOptions.of("stub-pool", null), settings(), stub).type()).isEqualTo("stub");
        prefect.createWorkPool("push-pool", "cloud-run:push", JSON.readTree("{}"));
        assertThatThrownBy(() -> create(WorkerOptions.of("push-pool", null), settings(), stub))
                .hasMessageContaining("push");
    }

    @Test
    void aBadApiKeyIsAClearErrorAtStart() throws Exception {
        prefect.requireApiKey("right-key");
        Worker w = create(WorkerOptions.of("pool", "stub"), settings("PREFECT_API_KEY", "wrong-key"), stub);
        assertThatThrownBy(w::start).isInstanceOf(WorkerException.class)
                .hasMessageContaining("401").hasMessageContaining("PREFECT_API_KEY")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wrong-key"));
    }

    @Test
    void anUnreachableServerIsAClearErrorWithoutTypeAndAWarningWithIt() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Map<String, String> unreachable = settings("PREFECT_API_URL", "http://127.0.0.1:" + port + "/api");
        assertThatThrownBy(() -> create(WorkerOptions.of("pool", null), unreachable, stub))
                .hasMessageContaining("--type").hasMessageContaining("127.0.0.1:" + port);
        Worker w = create(WorkerOptions.of("pool", "stub"), unreachable, stub);
        w.start(); // keeps trying; does not die
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("started!");
    }

    @Test
    void aPluginThatCannotStartIsAClearError() throws Exception {
        Worker w = create(WorkerOptions.of("pool", "stub"), settings(), new StubPlugin(true));
        assertThatThrownBy(w::start).hasMessageContaining("stub://nowhere");
    }

    @Test
    void createsThePoolInstallsTheTemplateAndHeartbeats() throws Exception {
        prefect.createWorkPool("empty", "stub", JSON.readTree("{}"));
        Worker w = create(WorkerOptions.of("empty", "stub").withName("w1"), settings(), stub);
        w.start();
        assertThat(prefect.workPool("empty").path("base_job_template").path("job_configuration").has("exit_code")).isTrue();
        start();
        assertThat(prefect.workPool("pool").path("type").asText()).isEqualTo("stub");
        await(WAIT, () -> prefect.heartbeats().size() >= 3, "heartbeats");
        assertThat(prefect.heartbeats().getFirst().path("heartbeat_interval_seconds").asInt()).isEqualTo(1);
        prefect.assertNoContractViolations();
    }

    @Test
    void aPluginThatThrowsCrashesOnlyThatRun() throws Exception {
        start();
        String dep = deployment("{}");
        String thrown = prefect.createFlowRun(dep, "{\"throw_launch\": true}");
        String refused = prefect.createFlowRun(dep, "{\"fail_launch\": \"image not found: nope:1\"}");
        String fine = prefect.createFlowRun(dep, "{}");
        await(WAIT, () -> prefect.stateType(thrown).equals("CRASHED") && prefect.stateType(refused).equals("CRASHED"), "both crashed");
        assertThat(prefect.stateMessage(thrown)).contains("Failed to submit flow run to infrastructure").contains("stub plugin bug");
        assertThat(prefect.stateMessage(refused)).isEqualTo("Failed to submit flow run to infrastructure: image not found: nope:1");
        await(WAIT, () -> !prefect.flowRun(fine).path("infrastructure_pid").asText("").isEmpty(), "fine run launched");
        assertThat(prefect.stateType(fine)).isEqualTo("PENDING");
        prefect.assertNoContractViolations();
    }

    @Test
    void aMalformedPoolTemplateCrashesTheRunNamingTheCause() throws Exception {
        prefect.createWorkPool("pool", "stub", JSON.readTree("{\"job_configuration\": [], \"variables\": {}}"));
        start();
        String id = prefect.createFlowRun(deployment("{}"), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "crashed");
        assertThat(prefect.stateMessage(id)).contains("malformed base job template");
    }

    @Test
    void rendersBlocksVariablesAndPrefectsEnvironment() throws Exception {
        prefect.createBlockDocument("secret", "token", JSON.readTree("{\"value\": \"s3cr3t\"}"));
        prefect.createVariable("team", JSON.readTree("\"data\""));
        start();
        String dep = deployment("{\"env\": {\"FROM_DEPLOYMENT\": \"1\", \"SHARED\": \"deployment\"},"
                + " \"labels\": {\"team\": \"{{ prefect.variables.team }}\"}}");
        String id = prefect.createFlowRun(dep, "{\"env\": {\"SHARED\": \"run\"}, \"secret\": \"{{ prefect.blocks.secret.token }}\"}");
        await(WAIT, () -> !stub.launched.isEmpty(), "launched");
        LaunchRequest req = stub.launched.getFirst();
        JsonNode c = req.configuration();
        assertThat(c.path("secret").asText()).isEqualTo("s3cr3t");
        assertThat(c.path("labels").path("team").asText()).isEqualTo("data");
        assertThat(c.path("labels").path("prefect.io/flow-run-id").asText()).isEqualTo(id);
        assertThat(c.path("env").path("SHARED").asText()).isEqualTo("run");
        assertThat(c.path("env").path("FROM_DEPLOYMENT").asText()).isEqualTo("1");
        assertThat(c.path("env").path("PREFECT__FLOW_RUN_ID").asText()).isEqualTo(id);
        assertThat(c.path("env").path("PREFECT_API_URL").asText()).isEqualTo(prefect.apiUrl());
        assertThat(c.path("command").asText()).isEqualTo("prefect flow-run execute");
        assertThat(req.run().deploymentName()).isEqualTo("nightly");
        assertThat(req.run().flowName()).isEqualTo("etl");
        JsonNode submitted = prefect.events().stream()
                .filter(e -> e.path("event").asText().equals("prefect.worker.submitted-flow-run")).findFirst().orElseThrow();
        assertThat(submitted.path("resource").path("prefect.resource.id").asText()).isEqualTo("prefect.worker.stub.w1");
        assertThat(submitted.path("related")).extracting(r -> r.path("prefect.resource.role").asText())
                .containsExactly("deployment", "flow", "flow-run", "work-pool");
        prefect.assertNoContractViolations();
    }

    @Test
    void retriesRateLimitsAndServerErrorsHonouringRetryAfter() throws Exception {
        start();
        await(WAIT, () -> !requestsTo("/work_pools/pool/get_scheduled_flow_runs").isEmpty(), "first poll");
        prefect.failNext("POST", ".*/get_scheduled_flow_runs", 429, 1, 3.0);
        String id = prefect.createFlowRun(deployment("{}"), "{}");
        prefect.failNext("POST", "/flow_runs/" + id + "/set_state", 503, 1, 0);
        await(WAIT, () -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "launched despite errors");

        // A retry carries the very same body; the next poll would carry a new scheduled_before. So an identical pair
        // is the transport's retry, and the gap between the two is the wait: the 3 s the server asked for (at most
        // 20 % more) — not the 2 s back-off of a client that ignores Retry-After, nor the next ~1 s poll tick.
        List<RecordedRequest> polls = requestsTo("/work_pools/pool/get_scheduled_flow_runs");
        List<Duration> retryGaps = new ArrayList<>();
        for (int i = 1; i < polls.size(); i++) {
            if (polls.get(i).body().equals(polls.get(i - 1).body())) {
                retryGaps.add(Duration.between(polls.get(i - 1).time(), polls.get(i).time()));
            }
        }
        assertThat(retryGaps).as("retried polls").hasSize(1);
        assertThat(retryGaps.getFirst()).isBetween(Duration.ofMillis(3000), Duration.ofMillis(3600 + 1000));

        // the claim that met a 503 was proposed again with the same transition id, after the short first pause
        // a 503 gets (a SQLite server's "database is locked" lasts milliseconds), not the 2 s back-off step
        List<RecordedRequest> claims = requestsTo("/flow_runs/" + id + "/set_state");
        assertThat(claims.size()).isGreaterThanOrEqualTo(2);
        assertThat(transitionId(claims.get(1))).isEqualTo(transitionId(claims.get(0)));
        assertThat(Duration.between(claims.get(0).time(), claims.get(1).time()))
                .isBetween(Duration.ofMillis(250), Duration.ofMillis(500 + 1000));
        assertThat(stub.launched).hasSize(1);
        prefect.assertNoContractViolations();
    }

    @Test
    void aBacklogBiggerThanOnePageIsClaimedWithinOnePollAndLaunchedOnlyOnceTheClaimsAreAnswered() throws Exception {
        String dep = deployment("{}");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < Poller.PAGE + 30; i++) {
            ids.add(prefect.createFlowRun(dep, "{}"));
        }
        // a poll interval far beyond the test's time: the runs past the first page come from the same poll
        create(WorkerOptions.of("pool", "stub").withName("w1"), settings("PREFECT_WORKER_QUERY_SECONDS", "600"), stub)
                .start();
        await(Duration.ofSeconds(40), () -> ids.stream().noneMatch(id -> prefect.stateType(id).equals("SCHEDULED")),
                "every run claimed");
        await(WAIT, () -> stub.launched.size() == ids.size(), "every run launched");
        Instant lastClaim = prefect.requests().stream()
                .filter(r -> r.path().endsWith("/set_state") && r.body().path("state").path("name").asText().equals("Pending"))
                .map(RecordedRequest::time).max(Instant::compareTo).orElseThrow();
        Instant firstLabels = prefect.requests().stream().filter(r -> r.path().endsWith("/labels"))
                .map(RecordedRequest::time).min(Instant::compareTo).orElseThrow();
        assertThat(firstLabels).as("the first submission write after the last claim").isAfter(lastClaim);
        prefect.assertNoContractViolations();
    }

    private List<RecordedRequest> requestsTo(String path) {
        return prefect.requests().stream().filter(r -> r.path().equals(path)).toList();
    }

    private static String transitionId(RecordedRequest r) {
        return r.body().path("state").path("state_details").path("transition_id").asText();
    }

    @Test
    void sendsCsrfTokensWhenTheServerAsksForThem() throws Exception {
        prefect.enableCsrf(true);
        start();
        String id = prefect.createFlowRun(deployment("{}"), "{}");
        await(WAIT, () -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "launched with CSRF");
        assertThat(prefect.requests()).anyMatch(r -> r.path().contains("/csrf-token"));
    }

    @Test
    void aPluginsInfrastructureEventsGoToPrefectWithTheRunAsRelatedResources() throws Exception {
        start();
        String id = prefect.createFlowRun(deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> stub.pidOf(id).map(p -> !stub.infra.get(p).sinks.isEmpty()).orElse(false), "watched");
        String pid = stub.pidOf(id).orElseThrow();
        String fixedId = "0b6a1f3e-6d3c-5b0e-9a41-3f1c2d4e5f60";
        stub.event(pid, new InfrastructureEvent("prefect.stub.box.pending", "prefect.stub.box." + pid,
                Map.of("prefect.resource.name", "box-" + pid), Instant.parse("2026-01-02T03:04:05Z"), fixedId));
        stub.event(pid, InfrastructureEvent.of("prefect.stub.box.running", "prefect.stub.box." + pid,
                Map.of("prefect.resource.name", "box-" + pid)));
        await(WAIT, () -> prefect.eventCount("prefect.stub.box.running") == 1, "both events");
        JsonNode pending = event("prefect.stub.box.pending");
        JsonNode running = event("prefect.stub.box.running");
        assertThat(pending.path("id").asText()).isEqualTo(fixedId);
        assertThat(pending.path("occurred").asText()).startsWith("2026-01-02T03:04:05");
        assertThat(pending.path("resource").path("prefect.resource.id").asText()).isEqualTo("prefect.stub.box." + pid);
        assertThat(pending.path("resource").path("prefect.resource.name").asText()).isEqualTo("box-" + pid);
        assertThat(running.path("related")).extracting(r -> r.path("prefect.resource.role").asText())
                .containsExactly("deployment", "flow", "flow-run", "work-pool", "worker");
        assertThat(running.path("related").get(2).path("prefect.resource.id").asText()).isEqualTo("prefect.flow-run." + id);
        assertThat(running.path("related").get(4).path("prefect.resource.id").asText()).isEqualTo("prefect.worker.stub.w1");
        // the pending event is from long ago: outside Prefect's window, so the running one does not follow it
        assertThat(running.path("follows").isNull()).isTrue();
        stub.event(pid, InfrastructureEvent.of("prefect.stub.box.exited", "prefect.stub.box." + pid, Map.of()));
        await(WAIT, () -> prefect.eventCount("prefect.stub.box.exited") == 1, "third event");
        assertThat(event("prefect.stub.box.exited").path("follows").asText()).isEqualTo(running.path("id").asText());

        io.pworker.spi.PhaseSink sink = stub.infra.get(pid).sinks.getFirst();
        stub.set(pid, Phase.Exited.of(0));
        await(WAIT, () -> prefect.eventCount("prefect.worker.executed-flow-run") == 1, "run ended");
        // the watch is closed: a late event from the plugin is not sent
        sink.event(InfrastructureEvent.of("prefect.stub.box.late", "prefect.stub.box." + pid, Map.of()));
        Thread.sleep(300);
        assertThat(prefect.eventCount("prefect.stub.box.late")).isZero();
        prefect.assertNoContractViolations();
    }

    private JsonNode event(String name) {
        return prefect.events().stream().filter(e -> e.path("event").asText().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void cancellingARunKillsItAndMarksItCancelled() throws Exception {
        start();
        String id = prefect.createFlowRun(deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "launched");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "cancelled");
        assertThat(stub.kills.get()).isEqualTo(1);
        prefect.assertNoContractViolations();
    }

    @Test
    void runOnceHandlesWhatIsDueThenStops() throws Exception {
        String dep = deployment("{\"exit_code\": 4}");
        String id = prefect.createFlowRun(dep, "{}");
        Worker w = create(WorkerOptions.of("pool", "stub").withName("once").withRunOnce(true), settings(), stub);
        w.start();
        w.runOnce();
        assertThat(w.awaitStopped(Duration.ofSeconds(1))).isTrue();
        assertThat(prefect.stateType(id)).isEqualTo("CRASHED");
        assertThat(prefect.stateMessage(id)).contains("non-zero status code 4");
    }

    @Test
    void anUnknownQueueIsWarnedAboutAndTheWorkerStillServesTheOthers() throws Exception {
        prefect.createWorkPool("pool", "stub", JSON.readTree("{}"));
        try (LogCapture log = LogCapture.of(PoolSync.class)) {
            Worker w = create(WorkerOptions.of("pool", "stub").withName("q").withWorkQueues(List.of("default", "typo")),
                    settings(), stub);
            w.start();
            String id = prefect.createFlowRun(deployment("{}"), "{}");
            await(WAIT, () -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty(), "default queue served");
            // several syncs later the unknown queue has been named once, not at every sync
            int seen = prefect.heartbeats().size();
            await(WAIT, () -> prefect.heartbeats().size() >= seen + 2, "two more syncs");
            assertThat(log.messages(Level.WARN)).filteredOn(m -> m.contains("'typo'")).singleElement()
                    .satisfies(m -> assertThat(m).contains("does not exist").contains("'pool'"));
            assertThat(log.messages(Level.WARN)).noneMatch(m -> m.contains("'default'"));
        }
        prefect.assertNoContractViolations();
    }
}
