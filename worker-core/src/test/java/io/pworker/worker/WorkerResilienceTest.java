package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.RecordedRequest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A busy or misbehaving server, through the worker's public API only: calls ride out outages with the transport's
 * retries, a lost answer to a claim is still a claim, and an answer that cannot be read is never acted upon.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WorkerResilienceTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private FakePrefectServer prefect;
    private StubPlugin stub;
    private final List<Worker> workers = new ArrayList<>();
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

    /** A worker with Prefect's default retry budget (PREFECT_CLIENT_MAX_RETRIES unset: 5). */
    private Worker start(String... settings) throws Exception {
        Map<String, String> values = prefect.workerSettings(settings);
        Worker w = Worker.create(Settings.from(values), WorkerOptions.of("pool", "stub").withName("w1"),
                new PluginRegistry(List.of(stub)), Map.of(), new PrintStream(new ByteArrayOutputStream(), true,
                        StandardCharsets.UTF_8), Clock.systemUTC());
        workers.add(w);
        w.start();
        return w;
    }

    private String run() throws Exception {
        return prefect.createFlowRun(prefect.createDeployment(flowId, "nightly", "pool", JSON.readTree("{}")), "{}");
    }

    private boolean launched(String id) {
        return !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty();
    }

    private List<RecordedRequest> requestsTo(String method, String path) {
        return prefect.requests().stream().filter(r -> r.method().equals(method) && r.path().equals(path)).toList();
    }

    @Test
    void aServerAnswering503ForTwentySecondsWhileARunIsClaimedDoesNotFailTheRun() throws Exception {
        start();
        // the outage begins with the claim: from then on every call and socket gets 503 for 20 s
        prefect.outageOn("POST", "/flow_runs/[^/]+/set_state", Duration.ofSeconds(20));
        long begin = System.nanoTime();
        String id = run();
        await(Duration.ofSeconds(90), () -> launched(id), "run launched after the outage");
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isGreaterThan(Duration.ofSeconds(20));
        assertThat(prefect.unavailableAnswers()).isGreaterThan(3);
        assertThat(prefect.stateType(id)).isEqualTo("PENDING");
        assertThat(prefect.flowRun(id).path("labels").path("prefect.worker.name").asText()).isEqualTo("w1");
        assertThat(stub.launched).hasSize(1);
        // every attempt at the claim carried the same transition id: one claim, retried by the transport
        assertThat(requestsTo("POST", "/flow_runs/" + id + "/set_state").stream()
                .filter(r -> r.body().path("state").path("name").asText().equals("Pending"))
                .map(r -> r.body().path("state").path("state_details").path("transition_id").asText())
                .distinct()).hasSize(1);
        prefect.assertNoContractViolations();
    }

    @Test
    void theRunPipelinesPatchesAreRetriedToo() throws Exception {
        start();
        prefect.failNext("PATCH", "/flow_runs/[^/]+/labels", 503, 1, 0);
        prefect.failNext("PATCH", "/flow_runs/[^/]+", 502, 1, 0);
        String id = run();
        await(Duration.ofSeconds(30), () -> launched(id), "launched");
        assertThat(requestsTo("PATCH", "/flow_runs/" + id + "/labels")).hasSize(2);
        assertThat(requestsTo("PATCH", "/flow_runs/" + id)).hasSize(2);
        assertThat(prefect.flowRun(id).path("labels").path("prefect.work-pool.name").asText()).isEqualTo("pool");
        assertThat(prefect.stateType(id)).isEqualTo("PENDING");
    }

    @Test
    void aClaimWhoseAnswerWasLostIsStillOurs() throws Exception {
        start();
        // the server accepts the PENDING proposal but the answer never arrives; the retry meets "already PENDING"
        prefect.loseResponsesNext("POST", "/flow_runs/[^/]+/set_state", 1);
        String id = run();
        await(Duration.ofSeconds(30), () -> launched(id), "launched");
        List<RecordedRequest> claims = requestsTo("POST", "/flow_runs/" + id + "/set_state");
        assertThat(claims.get(1).body()).isEqualTo(claims.get(0).body());
        assertThat(stub.launched).hasSize(1);
        assertThat(prefect.stateType(id)).isEqualTo("PENDING");
    }

    @Test
    void aClaimUnansweredAfterEveryRetryIsProposedAgainUntilTheServerAnswers() throws Exception {
        // no transport retries: each lost answer is at once an unanswered claim for the submission
        start("PREFECT_CLIENT_MAX_RETRIES", "0");
        // the server takes the first proposal, then the answers to it and to the next one are lost
        prefect.loseResponsesNext("POST", "/flow_runs/[^/]+/set_state", 2);
        String id = run();
        await(Duration.ofSeconds(60), () -> launched(id), "launched once the server answers");
        List<RecordedRequest> claims = requestsTo("POST", "/flow_runs/" + id + "/set_state").stream()
                .filter(r -> r.body().path("state").path("name").asText().equals("Pending")).toList();
        assertThat(claims).hasSizeGreaterThanOrEqualTo(3);
        // one transition, asked three times: the server recognised it instead of aborting a second PENDING
        assertThat(claims.stream().map(r -> r.body().path("state").path("state_details").path("transition_id")
                .asText()).distinct()).hasSize(1);
        assertThat(stub.launched).hasSize(1);
        assertThat(prefect.stateType(id)).isEqualTo("PENDING");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"3.4.25, false", "3.8.3, true"})
    void submittingIsProposedOnlyToServersThatTakeIt(String version, boolean proposed) throws Exception {
        prefect.setServerVersion(version);
        start();
        String id = run();
        await(Duration.ofSeconds(30), () -> launched(id), "launched");
        assertThat(requestsTo("POST", "/flow_runs/" + id + "/set_state").stream()
                .anyMatch(r -> r.body().path("state").path("name").asText().equals("Submitting")))
                .isEqualTo(proposed);
        prefect.assertNoContractViolations();
    }

    @Test
    void aPoolAnswerThatIsNotJsonStopsTheStartAndNothingIsWritten() throws Exception {
        prefect.createWorkPool("pool", "stub", JSON.readTree("{}"));
        prefect.answerNext("GET", "/work_pools/pool", 200, "text/html", "<html>maintenance page</html>", 100);
        assertThatThrownBy(() -> start()).isInstanceOf(WorkerException.class)
                .hasMessageContaining("GET /work_pools/pool").hasMessageContaining("not JSON");
        assertThat(prefect.requests()).noneMatch(r -> r.path().startsWith("/work_pools") && !r.method().equals("GET"));
        assertThat(prefect.workPool("pool").path("base_job_template").isEmpty()).isTrue();
    }

    @Test
    void aPoolAnswerThatCannotBeReadLaterNeverLeadsToAPatch() throws Exception {
        JsonNode custom = new StubPlugin().defaultBaseJobTemplate().put("custom", true);
        prefect.createWorkPool("pool", "stub", custom);
        start();
        int before = prefect.heartbeats().size();
        // the text a proxy might answer, then JSON of the wrong shapes: none may be taken for "a pool without template"
        prefect.answerNext("GET", "/work_pools/pool", 200, "text/plain", "OK", 2);
        prefect.answerNext("GET", "/work_pools/pool", 200, "application/json", "\"pool\"", 2);
        prefect.answerNext("GET", "/work_pools/pool", 200, "application/json", "null", 2);
        await(Duration.ofSeconds(30), () -> prefect.heartbeats().size() >= before + 3, "syncs carry on afterwards");
        assertThat(prefect.requests()).noneMatch(r -> r.path().startsWith("/work_pools/pool") && r.method().equals("PATCH"));
        assertThat(prefect.workPool("pool").path("base_job_template")).isEqualTo(custom);
    }
}
