package io.pworker.docker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.model.Container;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.WorkerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A docker worker killed with SIGKILL while its containers go on, and a new worker started on the same state
 * directory: it reports the exit code of a container that ended meanwhile, stops a run cancelled meanwhile, and
 * leaves a clean exit to the engine.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DockerRestartTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;
    private DockerTestEngine engine;
    private FakePrefectServer prefect;
    private final List<WorkerProcess> workers = new ArrayList<>();
    /** Unique per test, so this test's containers can be found (and removed) by their work-pool label. */
    private final String pool = "restart-" + UUID.randomUUID().toString().substring(0, 8);
    private String flowId;

    @BeforeEach
    void start() {
        engine = DockerTestEngine.get();
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
    }

    @AfterEach
    void cleanUp() {
        workers.forEach(WorkerProcess::close);
        if (prefect != null) {
            prefect.close();
        }
        if (engine != null) {
            for (Container c : containers(false)) {
                engine.client().removeContainerCmd(c.getId()).withForce(true).exec();
            }
        }
    }

    private WorkerProcess worker(String name, Path stateDir) {
        WorkerProcess w = WorkerProcess.start(WorkerProcess.environment(prefect, stateDir, "DOCKER_HOST", engine.host(),
                "PWORKER_KILL_GRACE_SECONDS", "5"),
                dir.resolve(name + ".log"), "--pool", pool, "--type", "docker", "--name", name);
        workers.add(w);
        return w;
    }

    private String run(String command) throws Exception {
        String dep = prefect.createDeployment(flowId, "d-" + command.hashCode(), pool, JSON.readTree("{\"image\": \""
                + DockerTestEngine.IMAGE + "\", \"image_pull_policy\": \"Never\", \"stream_output\": false, \"command\": "
                + JSON.writeValueAsString(command) + "}"));
        return prefect.createFlowRun(dep, "{}");
    }

    private String containerId(String runId) {
        await(WAIT, () -> !prefect.flowRun(runId).path("infrastructure_pid").asText("").isEmpty(), "run " + runId + " launched");
        String pid = prefect.flowRun(runId).path("infrastructure_pid").asText();
        return pid.substring(pid.lastIndexOf(':') + 1);
    }

    private boolean running(String containerId) {
        return Boolean.TRUE.equals(engine.client().inspectContainerCmd(containerId).exec().getState().getRunning());
    }

    private List<Container> containers(boolean runningOnly) {
        return engine.client().listContainersCmd().withShowAll(!runningOnly)
                .withLabelFilter(Map.of("io.prefect.work-pool-name", pool)).exec();
    }

    @Test
    void aWorkerKilledMidRunIsFollowedByOneThatReportsWhatHappenedMeanwhile() throws Exception {
        Path state = dir.resolve("state");
        WorkerProcess first = worker("dw1", state);
        String crashes = run("sh -c 'sleep 3; exit 4'");
        // PID 1 in a container ignores SIGTERM unless it traps it; this one stops at once when told to
        String cancelled = run("sh -c 'trap \"exit 143\" TERM; sleep 300 & wait'");
        String clean = run("sh -c 'sleep 3'");
        String crashesId = containerId(crashes);
        String cancelledId = containerId(cancelled);
        String cleanId = containerId(clean);

        first.kill();
        prefect.setFlowRunState(cancelled, "RUNNING", "Running");
        prefect.setFlowRunState(cancelled, "CANCELLING", "Cancelling");
        await(WAIT, () -> !running(crashesId) && !running(cleanId), "two containers ended while no worker ran");
        assertThat(running(cancelledId)).isTrue();

        worker("dw2", state);
        await(WAIT, () -> prefect.stateType(crashes).equals("CRASHED"), "the container that exited 4 crashed its run");
        assertThat(prefect.stateMessage(crashes)).contains("non-zero status code 4");
        await(WAIT, () -> prefect.stateType(cancelled).equals("CANCELLED"), "the run cancelled meanwhile is cancelled");
        await(WAIT, () -> !running(cancelledId), "its container stopped");
        await(WAIT, () -> !Files.exists(state.resolve("runs").resolve(clean + ".json")), "the clean exit is settled");
        assertThat(prefect.stateType(clean)).as("exit 0: the engine reports").isEqualTo("PENDING");
        assertThat(prefect.stateProposals(clean)).noneMatch(p -> p.path("state").path("type").asText().equals("CRASHED"));
        await(WAIT, () -> !Files.exists(state.resolve("runs").resolve(crashes + ".json"))
                && !Files.exists(state.resolve("runs").resolve(cancelled + ".json")), "records deleted once reported");
        assertThat(containers(false)).as("nothing launched twice").hasSize(3);
        prefect.assertNoContractViolations();
    }
}
