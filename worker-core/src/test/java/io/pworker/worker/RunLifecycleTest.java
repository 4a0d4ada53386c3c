package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.spi.Phase;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A supervised run's life with SPI 2 phases, cancellable launches, plugin failures and health. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RunLifecycleTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private CoreHarness h = new CoreHarness(new StubPlugin());

    @AfterEach
    void tearDown() {
        h.close();
    }

    private Path record(String runId) {
        return h.prefect.stateDirectory().resolve("runs").resolve(runId + ".json");
    }

    @Test
    void pendingDetailsAreLoggedOncePerChangeAndShownAsInfrastructurePending() throws Exception {
        h.prefect.setServerVersion("3.8.3"); // 3.4 aborts every PENDING -> PENDING, InfrastructurePending included
        h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"pending_detail\": \"pulling image etl:1\"}"), "{}");
        await(WAIT, () -> h.prefect.stateName(id).equals("InfrastructurePending"), "InfrastructurePending");
        assertThat(h.prefect.stateMessage(id)).isEqualTo("pulling image etl:1");
        String pid = h.pid(id);
        h.stub.set(pid, new Phase.Pending("pulling image etl:1"));
        h.stub.set(pid, new Phase.Pending("waiting for a node"));
        await(WAIT, () -> h.runLogs(id).contains("waiting for a node"), "second detail logged");
        assertThat(h.runLogs(id)).filteredOn("pulling image etl:1"::equals).hasSize(1);
        assertThat(h.proposedTypes(id)).filteredOn("PENDING:InfrastructurePending"::equals).hasSize(1);

        // once the engine runs, a Pending phase is logged but the worker does not fight the engine's state
        h.prefect.setFlowRunState(id, "RUNNING", "Running");
        h.stub.set(pid, new Phase.Running());
        h.stub.set(pid, new Phase.Pending("restarting"));
        await(WAIT, () -> h.runLogs(id).contains("restarting"), "third detail logged");
        h.stub.set(pid, Phase.Exited.of(0));
        await(WAIT, () -> !Files.exists(record(id)), "record deleted after the end");
        assertThat(h.prefect.stateType(id)).as("exit 0 leaves the state to the engine").isEqualTo("RUNNING");
        assertThat(h.proposedTypes(id)).filteredOn("PENDING:InfrastructurePending"::equals).hasSize(1);
        h.prefect.assertNoContractViolations();
    }

    @Test
    void theRecordHoldsTheHandleWhileTheRunIsWatched() throws Exception {
        h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"hold\": true, \"secret\": \"s3cr3t\"}"), "{}");
        await(WAIT, () -> !h.pid(id).isEmpty(), "launched");
        String text = Files.readString(record(id));
        assertThat(text).contains("\"stage\" : \"launched\"").contains("\"infrastructure_pid\" : \"" + h.pid(id) + "\"")
                .contains("\"type\" : \"stub\"").doesNotContain("s3cr3t").doesNotContain("PREFECT_API_URL");
        h.stub.set(h.pid(id), Phase.Exited.of(3));
        await(WAIT, () -> h.prefect.stateType(id).equals("CRASHED"), "crashed");
        assertThat(h.prefect.stateMessage(id)).startsWith("Flow run infrastructure exited with non-zero status code 3.");
        await(WAIT, () -> !Files.exists(record(id)), "record deleted once reported");
        assertThat(h.stub.released).contains(h.pid(id));
    }

    @Test
    void aRunItsEngineRescheduledIsNotCrashedWhenItsInfrastructureEndsAndIsLaunchedAgain() throws Exception {
        // an evicted pod's engine with PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR=reschedule: the run goes back to
        // SCHEDULED, then the infrastructure fails; the real servers accept CRASHED from SCHEDULED (checked on 3.4.25)
        h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> !h.pid(id).isEmpty(), "launched");
        String first = h.pid(id);
        h.prefect.setFlowRunState(id, "RUNNING", "Running");
        h.prefect.setFlowRunState(id, "SCHEDULED", "AwaitingRetry");
        h.stub.set(first, Phase.Exited.of(143));
        await(WAIT, () -> h.stub.launchesOf(id) == 2, "launched again");
        assertThat(h.proposedTypes(id)).noneMatch(t -> t.startsWith("CRASHED"));
        await(WAIT, () -> h.runLogs(id).stream().anyMatch(l -> l.startsWith("Not reporting flow run '" + id
                + "' as crashed") && l.contains("the flow run is 'AwaitingRetry'")), "why the run was not crashed, in its log");
        await(WAIT, () -> !h.pid(id).equals(first) && !h.pid(id).isEmpty(), "second attempt's pid written");
        h.stub.set(h.pid(id), Phase.Exited.of(1));
        await(WAIT, () -> h.prefect.stateType(id).equals("CRASHED"), "second attempt crashed");
        h.prefect.assertNoContractViolations();
    }

    @Test
    void aPausedRunOrOneAnotherAttemptTookOverIsNotCrashed() throws Exception {
        h.start("w1");
        String paused = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        String taken = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> !h.pid(paused).isEmpty() && !h.pid(taken).isEmpty(), "launched");
        String pausedPid = h.pid(paused);
        String takenPid = h.pid(taken);
        h.prefect.setFlowRunState(paused, "PAUSED", "Suspended");
        h.prefect.setFlowRunState(taken, "RUNNING", "Running");
        h.prefect.setInfrastructurePid(taken, "elsewhere:42");
        h.stub.set(pausedPid, Phase.Exited.of(1));
        h.stub.set(takenPid, new Phase.Gone("stub infrastructure " + takenPid + " vanished"));
        await(WAIT, () -> !Files.exists(record(paused)) && !Files.exists(record(taken)), "both records deleted");
        assertThat(h.prefect.stateName(paused)).isEqualTo("Suspended");
        assertThat(h.prefect.stateType(taken)).isEqualTo("RUNNING");
        assertThat(h.proposedTypes(paused)).noneMatch(t -> t.startsWith("CRASHED"));
        assertThat(h.proposedTypes(taken)).noneMatch(t -> t.startsWith("CRASHED"));
        await(WAIT, () -> h.runLogs(taken).stream().anyMatch(l -> l.contains("another attempt on elsewhere:42 has taken "
                + "over the flow run")), "why the run was not crashed, in its log");
        h.prefect.assertNoContractViolations();
    }

    @Test
    void theInfrastructuresOwnOutputReachesTheRunsLogOnlyWhenTheFlowNeverStarted() throws Exception {
        h.start("w1");
        String early = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        String late = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> !h.pid(early).isEmpty() && !h.pid(late).isEmpty(), "launched");
        // the engine of `late` ran and shipped its output itself; `early` died before it could
        h.prefect.setFlowRunState(late, "RUNNING", "Running");
        h.stub.failureLog(h.pid(early), List.of("pip: no matching distribution for flows==1.0"));
        h.stub.set(h.pid(early), Phase.Exited.of(1));
        h.stub.failureLog(h.pid(late), List.of("KeyError: 'customer'"));
        h.stub.set(h.pid(late), Phase.Exited.of(137));
        await(WAIT, () -> h.prefect.stateType(early).equals("CRASHED") && h.prefect.stateType(late).equals("CRASHED"),
                "both crashed");
        await(WAIT, () -> h.runLogs(early).stream().anyMatch(l -> l.startsWith("Reported flow run")), "crash logged");
        await(WAIT, () -> h.runLogs(late).stream().anyMatch(l -> l.startsWith("Reported flow run")), "crash logged");
        List<String> earlyLog = h.runLogs(early);
        int reported = earlyLog.indexOf(earlyLog.stream().filter(l -> l.startsWith("Reported flow run")).findFirst().orElseThrow());
        assertThat(earlyLog.indexOf("pip: no matching distribution for flows==1.0")).as("forwarded before the crash")
                .isBetween(0, reported - 1);
        assertThat(h.runLogs(late)).noneMatch(l -> l.contains("KeyError"));
        h.prefect.assertNoContractViolations();
    }

    @Test
    void aCancellationDuringTheLaunchInterruptsIt() throws Exception {
        h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"launch_wait\": true}"), "{}");
        await(WAIT, () -> h.stub.launchesOf(id) == 1, "launch started");
        h.prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> h.prefect.stateType(id).equals("CANCELLED"), "cancelled");
        assertThat(h.stub.interruptedLaunches).containsExactly(id);
        assertThat(h.prefect.stateMessage(id)).isEqualTo("Flow run was cancelled before its infrastructure was created.");
        await(WAIT, () -> !Files.exists(record(id)), "record deleted");
        h.prefect.assertNoContractViolations();
    }

    @Test
    void stoppingTheWorkerDuringALaunchInterruptsItAndSaysSo() throws Exception {
        Worker w = h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"launch_wait\": true}"), "{}");
        await(WAIT, () -> h.stub.launchesOf(id) == 1, "launch started");
        w.stop();
        assertThat(h.stub.interruptedLaunches).containsExactly(id);
        assertThat(h.prefect.stateType(id)).isEqualTo("CRASHED");
        assertThat(h.prefect.stateMessage(id)).isEqualTo("Worker 'w1' was stopped while submitting this flow run; its "
                + "infrastructure was not started.");
        assertThat(record(id)).doesNotExist();
    }

    @Test
    void aPluginThatThrowsWhileWatchingCrashesOnlyThatRunNamingThePlugin() throws Exception {
        h.start("w1");
        String dep = h.deployment("{}");
        String broken = h.prefect.createFlowRun(dep, "{\"throw_watch\": true, \"hold\": true}");
        String fine = h.prefect.createFlowRun(dep, "{\"hold\": true}");
        await(WAIT, () -> h.prefect.stateType(broken).equals("CRASHED"), "crashed");
        assertThat(h.prefect.stateMessage(broken)).startsWith("The worker lost track of the flow run's infrastructure: "
                + "the 'stub' plugin failed in watch: java.lang.IllegalStateException: stub watch bug");
        await(WAIT, () -> !h.pid(fine).isEmpty(), "the other run launched");
        h.prefect.setFlowRunState(fine, "CANCELLING", "Cancelling");
        await(WAIT, () -> h.prefect.stateType(fine).equals("CANCELLED"), "the other run is still served");
    }

    @Test
    void anOutlivingRunIsLeftRecordedOnStopAndWatchedAgainByTheNextWorker() throws Exception {
        h.close();
        h = new CoreHarness(StubPlugin.outliving());
        Worker first = h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> !h.pid(id).isEmpty(), "launched");
        first.stop();
        assertThat(record(id)).exists();
        assertThat(h.prefect.stateType(id)).isEqualTo("PENDING");

        h.start("w2");
        await(WAIT, () -> h.stub.infra.get(h.pid(id)).sinks.size() == 1, "watched again");
        h.prefect.setFlowRunState(id, "RUNNING", "Running");
        h.prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> h.prefect.stateType(id).equals("CANCELLED"), "cancellation enforced after the restart");
        assertThat(h.stub.kills.get()).isEqualTo(1);
        assertThat(h.stub.launchesOf(id)).isEqualTo(1);
        await(WAIT, () -> !Files.exists(record(id)), "record deleted");
        h.prefect.assertNoContractViolations();
    }

    @Test
    void healthIs503UntilAPollIsAnswered() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        // 30 × the 1 s poll floor: unhealthy 30 s after start when no poll got an answer
        Worker down = h.create(WorkerOptions.of("pool", "stub").withName("down").withHealthcheck(true),
                h.settings("PREFECT_API_URL", "http://127.0.0.1:" + port + "/api",
                        "PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1", "PREFECT_WORKER_WEBSERVER_PORT", "0"));
        down.start();
        Worker up = h.create(WorkerOptions.of("pool", "stub").withName("up").withHealthcheck(true),
                h.settings("PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1",
                        "PREFECT_WORKER_WEBSERVER_PORT", "0"));
        up.start();
        assertThat(health(down)).isEqualTo(200); // not yet: the threshold has not passed
        await(Duration.ofSeconds(45), () -> health(down) == 503, "503 without an answered poll");
        assertThat(health(up)).isEqualTo(200);
        assertThat(down.lastPolled()).isBefore(up.lastPolled());
    }

    private static int health(Worker w) {
        try (HttpClient c = HttpClient.newHttpClient()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + w.healthPort() + "/health")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
