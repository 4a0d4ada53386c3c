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
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two workers on one pool, each with its own state directory; one is killed with SIGKILL in the middle of 50 runs
 * and started again. Every run is launched once: never twice, and never lost without a word.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ProcessFailoverTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int RUNS = 50;

    @TempDir
    Path dir;
    private final FakePrefectServer prefect = FakePrefectServer.start();
    private final List<WorkerProcess> workers = new ArrayList<>();
    private final List<String> runs = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        workers.forEach(WorkerProcess::close);
        for (String id : runs) {
            String pid = prefect.flowRun(id).path("infrastructure_pid").asText("");
            if (!pid.isEmpty()) {
                ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        prefect.close();
    }

    private WorkerProcess worker(String name) {
        WorkerProcess w = WorkerProcess.start(WorkerProcess.environment(prefect, dir.resolve("state-" + name)),
                dir.resolve(name + ".log"), "--pool", "pool", "--type", "process", "--name", name);
        workers.add(w);
        return w;
    }

    private static Map<String, Long> launches(Path file) {
        try {
            return Files.readAllLines(file).stream().filter(l -> !l.isBlank())
                    .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
        } catch (java.io.IOException e) {
            return Map.of();
        }
    }

    private long launchedBy(String worker) {
        return runs.stream().filter(id -> prefect.flowRun(id).path("labels").path("prefect.worker.name").asText()
                .equals(worker) && !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty()).count();
    }

    @Test
    void fiftyRunsAreEachLaunchedOnceAcrossAWorkerCrashAndRestart() throws Exception {
        Path launches = dir.resolve("launches");
        String flowId = prefect.createFlow("etl");
        String dep = prefect.createDeployment(flowId, "count", "pool", JSON.readTree("{\"stream_output\": false, "
                + "\"command\": " + JSON.writeValueAsString("sh -c 'echo $PREFECT__FLOW_RUN_ID >> " + launches
                + "; sleep 2'") + "}"));
        // w1 alone first, so that it surely holds runs when it dies: whichever worker polls first after runs
        // appear claims all of them, and a second worker starting at the same moment may win every time
        WorkerProcess w1 = worker("w1");
        for (int i = 0; i < RUNS; i++) {
            runs.add(prefect.createFlowRun(dep, "{}"));
            if (i == 9) {
                await(WAIT, () -> launchedBy("w1") >= 1, "w1 launched a run");
                worker("w2");
            }
            if (i % 10 == 9) {
                Thread.sleep(400);
            }
            if (i == 30) {
                w1.kill();
            }
        }
        WorkerProcess again = worker("w1");
        await(WAIT, () -> {
            Map<String, Long> seen = launches(launches);
            return runs.stream().allMatch(id -> seen.containsKey(id) || prefect.stateType(id).equals("CRASHED"));
        }, "every run launched or reported");
        Thread.sleep(3000); // let any duplicate show itself

        Map<String, Long> seen = launches(launches);
        for (String id : runs) {
            if (seen.containsKey(id)) {
                assertThat(seen.get(id)).as("launches of %s", id).isEqualTo(1);
            } else {
                // SIGKILL inside launch(): the new worker cannot know whether the process started and says so
                assertThat(prefect.stateMessage(id)).contains("whether the flow run started is unknown");
            }
        }
        assertThat(seen.keySet()).allMatch(runs::contains);
        assertThat(again.output()).contains("Taking over flow run");
        assertThat(launchedBy("w2")).isPositive();
        prefect.assertNoContractViolations();
    }
}
