package io.pworker.process;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.WorkerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process worker killed with SIGKILL while its flow runs go on, and a new worker started on the same state
 * directory: it finds each run and reports what became of it while nobody watched.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessRestartTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private FakePrefectServer prefect;
    private final List<WorkerProcess> workers = new ArrayList<>();
    private final List<Long> flowProcesses = new ArrayList<>();
    private String flowId;

    @BeforeEach
    void startPrefect() {
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
    }

    @AfterEach
    void cleanUp() {
        workers.forEach(WorkerProcess::close);
        flowProcesses.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        prefect.close();
    }

    private WorkerProcess worker(String name, Path stateDir) {
        WorkerProcess w = WorkerProcess.start(WorkerProcess.environment(prefect, stateDir),
                dir.resolve(name + ".log"), "--pool", "pool", "--type", "process", "--name", name);
        workers.add(w);
        return w;
    }

    private String run(String command) throws Exception {
        String dep = prefect.createDeployment(flowId, "d-" + command.hashCode(), "pool", JSON.readTree(
                "{\"command\": " + JSON.writeValueAsString(command) + ", \"stream_output\": false}"));
        return prefect.createFlowRun(dep, "{}");
    }

    private long pid(String runId) {
        await(WAIT, () -> !prefect.flowRun(runId).path("infrastructure_pid").asText("").isEmpty(), "run " + runId + " launched");
        long pid = Long.parseLong(prefect.flowRun(runId).path("infrastructure_pid").asText());
        flowProcesses.add(pid);
        return pid;
    }

    private static boolean gone(long pid) {
        return !ProcessTests.alive(pid);
    }

    @Test
    void aWorkerKilledMidRunIsFollowedByOneThatReportsWhatHappenedMeanwhile() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state.resolve("runs"));
        Files.writeString(state.resolve("runs").resolve("not-a-record.json"), "{\"version\": 1");
        WorkerProcess first = worker("w1", state);
        String crashes = run("sh -c 'sleep 3; exit 4'");
        String cancelled = run("sleep 60");
        String completes = run("sh -c 'sleep 3'");
        long crashesPid = pid(crashes);
        long cancelledPid = pid(cancelled);
        long completesPid = pid(completes);
        assertThat(first.output()).contains("Ignoring not-a-record.json").contains("started!");

        first.kill();
        // meanwhile: the engine of one run reports it finished, a user cancels another
        prefect.setFlowRunState(completes, "RUNNING", "Running");
        prefect.setFlowRunState(cancelled, "RUNNING", "Running");
        prefect.setFlowRunState(cancelled, "CANCELLING", "Cancelling");
        await(WAIT, () -> gone(crashesPid) && gone(completesPid), "two flow processes ended while no worker ran");
        prefect.setFlowRunState(completes, "COMPLETED", "Completed");
        assertThat(gone(cancelledPid)).isFalse();

        worker("w2", state);
        await(WAIT, () -> prefect.stateType(crashes).equals("CRASHED"), "run that exited 4 crashed");
        String message = prefect.stateMessage(crashes);
        assertThat(message).contains("worker was down");
        Matcher code = Pattern.compile("status code (-?\\d+)").matcher(message);
        if (code.find()) {
            // the plugin recorded the exit code while the worker was down
            assertThat(code.group(1)).isEqualTo("4");
        }
        await(WAIT, () -> prefect.stateType(cancelled).equals("CANCELLED"), "run cancelled while down is cancelled");
        await(WAIT, () -> gone(cancelledPid), "its process is gone");
        assertThat(prefect.stateType(completes)).isEqualTo("COMPLETED");
        for (String id : List.of(crashes, cancelled, completes)) {
            assertThat(prefect.stateProposals(id)).as("proposals for %s", id)
                    .filteredOn(p -> p.path("state").path("name").asText().equals("Pending")).hasSize(1);
        }
        assertThat(prefect.stateProposals(completes)).noneMatch(p -> p.path("state").path("type").asText().equals("CRASHED"));
        await(WAIT, () -> !Files.exists(state.resolve("runs").resolve(crashes + ".json"))
                && !Files.exists(state.resolve("runs").resolve(cancelled + ".json"))
                && !Files.exists(state.resolve("runs").resolve(completes + ".json")), "records deleted once reported");
        prefect.assertNoContractViolations();
    }
}
