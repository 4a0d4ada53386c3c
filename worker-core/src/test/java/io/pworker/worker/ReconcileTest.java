package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.state.Lease;
import io.pworker.state.RunRecord;
import io.pworker.state.RunStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A worker starting where a crashed one left off: records written as that worker would have written them, stub
 * infrastructure in the state it reached meanwhile, flow runs in the state the engine left them.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReconcileTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Instant EARLIER = Instant.parse("2026-11-23T10:00:00Z");

    private final CoreHarness h = new CoreHarness(StubPlugin.outliving());
    private String deployment;

    @AfterEach
    void tearDown() {
        h.close();
    }

    private Path record(String runId) {
        return h.prefect.stateDirectory().resolve("runs").resolve(runId + ".json");
    }

    /** A run the crashed worker claimed; {@code phase} is what its infrastructure does now (null: never launched). */
    private String leftBehind(RunRecord.Stage stage, Phase phase, String stateType, String stateName) throws Exception {
        if (deployment == null) {
            deployment = h.deployment("{}");
        }
        String id = h.prefect.createFlowRun(deployment, "{}");
        h.prefect.setFlowRunState(id, "PENDING", "Submitting");
        if (!stateType.equals("PENDING")) {
            h.prefect.setFlowRunState(id, stateType, stateName);
        }
        RunRecord r = RunRecord.claimed("stub", id, "pool", h.poolId, "crashed", EARLIER);
        if (stage != RunRecord.Stage.CLAIMED) {
            r = r.launching();
        }
        if (phase != null) {
            String pid = h.stub.place(id, h.poolId, phase);
            if (stage == RunRecord.Stage.LAUNCHED) {
                h.prefect.setInfrastructurePid(id, pid);
                r = r.launched(new RunHandle(pid, Map.of("flow_run_id", id)), EARLIER);
            }
        }
        try (Lease lease = RunStore.open(h.prefect.stateDirectory()).lease(id).orElseThrow()) {
            lease.write(r);
        }
        return id;
    }

    @Test
    void aRunStillRunningIsWatchedAgainAndItsEndReported() throws Exception {
        String id = leftBehind(RunRecord.Stage.LAUNCHED, new Phase.Running(), "RUNNING", "Running");
        h.start("w2");
        await(WAIT, () -> h.stub.infra.get(h.pid(id)).sinks.size() == 1, "watched again");
        h.stub.set(h.pid(id), Phase.Exited.of(3));
        await(WAIT, () -> h.prefect.stateType(id).equals("CRASHED"), "crashed");
        assertThat(h.prefect.stateMessage(id)).isEqualTo("Flow run infrastructure exited with non-zero status code 3. "
                + ExitCodes.explain(3));
        await(WAIT, () -> !Files.exists(record(id)), "record deleted");
        assertThat(h.stub.launched).isEmpty();
        assertThat(h.stub.configurationsSeen).as("recover and watch get the re-rendered configuration")
                .allSatisfy(c -> assertThat(c.path("env").path("PREFECT__FLOW_RUN_ID").asText()).isEqualTo(id));
        h.prefect.assertNoContractViolations();
    }

    @Test
    void endsWhileTheWorkerWasDownAreReportedOnce() throws Exception {
        String exited = leftBehind(RunRecord.Stage.LAUNCHED, Phase.Exited.of(4), "RUNNING", "Running");
        String gone = leftBehind(RunRecord.Stage.LAUNCHED, new Phase.Gone("The container c was removed."), "PENDING", null);
        String clean = leftBehind(RunRecord.Stage.LAUNCHED, Phase.Exited.of(0), "RUNNING", "Running");
        String finished = leftBehind(RunRecord.Stage.LAUNCHED, Phase.Exited.of(0), "COMPLETED", "Completed");
        h.start("w2");
        await(WAIT, () -> h.prefect.stateType(exited).equals("CRASHED") && h.prefect.stateType(gone).equals("CRASHED"),
                "both crashed");
        assertThat(h.prefect.stateMessage(exited)).startsWith("Flow run infrastructure exited with non-zero status code 4.")
                .contains("while the worker was down");
        assertThat(h.prefect.stateMessage(gone)).startsWith("The container c was removed.")
                .contains("while the worker was down");
        await(WAIT, () -> !Files.exists(record(clean)) && !Files.exists(record(finished)), "all records deleted");
        assertThat(h.proposedTypes(clean)).as("exit 0: the engine reports").doesNotContain("CRASHED:Crashed");
        assertThat(h.prefect.stateType(clean)).isEqualTo("RUNNING");
        assertThat(h.proposedTypes(finished)).doesNotContain("CRASHED:Crashed");
        // the crashed run is released after its report, which may come after the other two are forgotten
        await(WAIT, () -> h.stub.released.containsAll(List.of(h.pid(clean), h.pid(finished), h.pid(exited))),
                "all three released");
        assertThat(h.proposedTypes(exited)).filteredOn("CRASHED:Crashed"::equals).hasSize(1);
        assertThat(h.stub.launched).isEmpty();
        // the finished run needs no report, so no executed event either
        await(WAIT, () -> h.prefect.eventCount("prefect.worker.executed-flow-run") == 3, "three executed events");
        h.prefect.assertNoContractViolations();
    }

    @Test
    void aRunCancelledWhileTheWorkerWasDownIsStoppedAndCancelled() throws Exception {
        String id = leftBehind(RunRecord.Stage.LAUNCHED, new Phase.Running(), "CANCELLING", "Cancelling");
        h.start("w2");
        await(WAIT, () -> h.prefect.stateType(id).equals("CANCELLED"), "cancelled");
        assertThat(h.stub.kills.get()).isEqualTo(1);
        assertThat(h.stub.infra.get(h.pid(id)).phase).isEqualTo(Phase.Exited.of(-15));
        await(WAIT, () -> !Files.exists(record(id)), "record deleted");
    }

    @Test
    void aClaimedRunThatWasNeverLaunchedIsLaunchedOnce() throws Exception {
        String id = leftBehind(RunRecord.Stage.CLAIMED, null, "PENDING", null);
        h.start("w2");
        await(WAIT, () -> !h.pid(id).isEmpty(), "launched");
        assertThat(h.stub.launchesOf(id)).isEqualTo(1);
        await(WAIT, () -> h.runLogs(id).stream().anyMatch(l -> l.contains("resumes submitting")), "resumption logged");
        h.stub.set(h.pid(id), Phase.Exited.of(0));
        await(WAIT, () -> !Files.exists(record(id)), "record deleted");
        assertThat(h.stub.launchesOf(id)).isEqualTo(1);
    }

    @Test
    void aLaunchCutShortIsAdoptedWhenTheInfrastructureIsFoundAndCrashedWhenNot() throws Exception {
        String found = leftBehind(RunRecord.Stage.LAUNCHING, new Phase.Running(), "PENDING", null);
        String lost = leftBehind(RunRecord.Stage.LAUNCHING, null, "PENDING", null);
        h.start("w2");
        await(WAIT, () -> !h.pid(found).isEmpty(), "infrastructure_pid written for the adopted run");
        assertThat(h.pid(found)).isEqualTo(h.stub.pidOf(found).orElseThrow());
        await(WAIT, () -> h.prefect.stateType(lost).equals("CRASHED"), "lost launch crashed");
        assertThat(h.prefect.stateMessage(lost)).contains("whether the flow run started is unknown");
        assertThat(Files.readString(record(found))).contains("\"stage\" : \"launched\"");
        assertThat(h.stub.launched).isEmpty();
    }

    @Test
    void recordsOfAnotherPoolAreLeftAloneAndStrangeFilesAreWarnedAbout() throws Exception {
        var warnings = h.capture("io.pworker.state.RunStore");
        String id = leftBehind(RunRecord.Stage.LAUNCHED, Phase.Exited.of(4), "RUNNING", "Running");
        Path file = record(id);
        Files.writeString(file, Files.readString(file).replace(h.poolId, "5e1f0000-0000-0000-0000-000000000000"));
        Path runs = file.getParent();
        Files.writeString(runs.resolve("9f9f9f9f-0000-0000-0000-000000000000.json"), "{\"version\": 1, \"stage\": ");
        Files.writeString(runs.resolve("README"), "not ours");
        h.start("w2");
        String fresh = h.prefect.createFlowRun(deployment, "{\"hold\": true}");
        await(WAIT, () -> !h.pid(fresh).isEmpty(), "the worker serves new runs");
        assertThat(CoreHarness.messages(warnings))
                .anySatisfy(m -> assertThat(m).contains("9f9f9f9f-0000-0000-0000-000000000000.json"))
                .anySatisfy(m -> assertThat(m).contains("README"));
        assertThat(h.prefect.stateType(id)).isEqualTo("RUNNING");
        assertThat(file).exists();
    }

    @Test
    void anApiThatDoesNotAnswerDelaysTheReportWithoutLosingIt() throws Exception {
        String id = leftBehind(RunRecord.Stage.LAUNCHED, Phase.Exited.of(4), "RUNNING", "Running");
        h.prefect.failNext("GET", ".*/flow_runs/" + id, 503, 4, 0);
        h.start("w2");
        await(WAIT, () -> h.prefect.stateType(id).equals("CRASHED"), "crashed once the API answers");
        assertThat(h.proposedTypes(id)).filteredOn("CRASHED:Crashed"::equals).hasSize(1);
        assertThat(h.stub.launched).isEmpty();
    }

    @Test
    void aDeletedDeploymentStillLetsTheRunBeStoppedAndTheRunLogSaysWhatIsMissing() throws Exception {
        String id = leftBehind(RunRecord.Stage.LAUNCHED, new Phase.Running(), "CANCELLING", "Cancelling");
        h.prefect.deleteDeployment(deployment);
        h.start("w2");
        await(WAIT, () -> h.prefect.stateType(id).equals("CANCELLED"), "cancelled");
        await(WAIT, () -> h.runLogs(id).stream().anyMatch(l -> l.contains("Could not render the flow run's job "
                + "configuration again") && l.contains("no longer exists")), "the run log says what is missing");
        assertThat(h.stub.kills.get()).isEqualTo(1);
    }

    @Test
    void infrastructureWithoutARecordIsReleasedOnlyWhenItsRunIsFinal() throws Exception {
        String dep = h.deployment("{}");
        String done = h.prefect.createFlowRun(dep, "{}");
        h.prefect.setFlowRunState(done, "PENDING", "Pending");
        h.prefect.setFlowRunState(done, "COMPLETED", "Completed");
        String running = h.prefect.createFlowRun(dep, "{}");
        h.prefect.setFlowRunState(running, "PENDING", "Pending");
        h.prefect.setFlowRunState(running, "RUNNING", "Running");
        String donePid = h.stub.place(done, h.poolId, Phase.Exited.of(0));
        String runningPid = h.stub.place(running, h.poolId, new Phase.Running());
        h.start("w2");
        await(WAIT, () -> h.stub.released.contains(donePid), "orphan of a finished run released");
        Thread.sleep(1500); // a few more reconciles
        assertThat(h.stub.released).containsOnlyOnce(donePid).doesNotContain(runningPid);
        assertThat(h.stub.kills.get()).isZero();
        assertThat(h.proposedTypes(running)).doesNotContain("CRASHED:Crashed");
        h.prefect.assertNoContractViolations();
    }

    @Test
    void workersSharingAStateDirectorySuperviseEachRunOnceAndTakeOverFromOneAnother() throws Exception {
        var takeovers = h.capture("io.pworker.worker.Reconciler");
        Worker first = h.start("w1");
        String id = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> !h.pid(id).isEmpty(), "launched by w1");
        h.start("w2");
        Thread.sleep(2000); // w2 reconciles every second
        assertThat(CoreHarness.messages(takeovers)).as("w1 holds the record").isEmpty();
        assertThat(h.stub.infra.get(h.pid(id)).sinks).hasSize(1);

        first.stop(); // the infrastructure outlives w1; its record stays
        await(WAIT, () -> CoreHarness.messages(takeovers).stream().anyMatch(m -> m.contains(id) && m.contains("'w1'")),
                "w2 takes the run over");
        await(WAIT, () -> h.stub.infra.get(h.pid(id)).sinks.size() == 1, "w2 watches it");
        h.stub.set(h.pid(id), Phase.Exited.of(6));
        await(WAIT, () -> h.prefect.stateType(id).equals("CRASHED"), "crashed");
        assertThat(h.proposedTypes(id)).filteredOn("CRASHED:Crashed"::equals).hasSize(1);
        assertThat(h.stub.launchesOf(id)).isEqualTo(1);
    }
}
