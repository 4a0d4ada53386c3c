package io.pworker.kubernetes;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole worker with the kubernetes type: the Prefect API fake, pworker, the fake API server reached through a
 * kubeconfig, and each Job's container run on the real Docker engine.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KubernetesWorkerEndToEndTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(45);

    @TempDir
    Path dir;
    private FakeKubernetes cluster;
    private FakePrefectServer prefect;
    private Worker worker;
    private String flowId;
    private final String pool = "k8s-" + UUID.randomUUID().toString().substring(0, 8);
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    @BeforeEach
    void start() throws Exception {
        cluster = new FakeKubernetes(new DockerKubelet(DockerTestEngine.get().client()));
        prefect = FakePrefectServer.start();
        flowId = prefect.createFlow("etl");
        Path kubeconfig = dir.resolve("kubeconfig");
        Files.writeString(kubeconfig, cluster.kubeconfig("fake").toString());
        worker = Worker.create(Settings.from(prefect.workerSettings("PWORKER_KILL_GRACE_SECONDS", "2")),
                WorkerOptions.of(pool, "kubernetes").withName("kw"), new PluginRegistry(List.of(new KubernetesPlugin())),
                Map.of("KUBECONFIG", kubeconfig.toString()), new PrintStream(console, true, StandardCharsets.UTF_8),
                Clock.systemUTC());
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
        if (cluster != null) {
            cluster.close();
            assertThat(cluster.violations()).isEmpty();
        }
    }

    private String deployment(String script) throws Exception {
        return prefect.createDeployment(flowId, "nightly", pool, JSON.readTree("{\"image\": \"" + DockerTestEngine.IMAGE
                + "\", \"image_pull_policy\": \"Never\", \"command\": " + JSON.writeValueAsString(Rendered.shell(script))
                + "}"));
    }

    private JobRef job(String runId) {
        String pid = prefect.flowRun(runId).path("infrastructure_pid").asText("");
        return pid.isEmpty() ? null : new JobRef(pid.substring(0, pid.indexOf(':')), pid.substring(pid.indexOf(':') + 1));
    }

    @Test
    void aRunGoesThroughAJobToItsContainerWhichReportsItCompleted() throws Exception {
        String report = "api=\"$PREFECT_API_URL/flow_runs/$PREFECT__FLOW_RUN_ID/set_state\"; "
                + "for s in RUNNING:Running COMPLETED:Completed; do wget -q -O /dev/null --header 'Content-Type: "
                + "application/json' --post-data \"{\\\"state\\\": {\\\"type\\\": \\\"${s%%:*}\\\", \\\"name\\\": "
                + "\\\"${s##*:}\\\"}}\" \"$api\" || exit 9; done; echo done with $PREFECT__FLOW_RUN_ID";
        String id = prefect.createFlowRun(deployment(report), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("COMPLETED"), "the container completed its run");
        JobRef ref = job(id);
        assertThat(prefect.flowRun(id).path("infrastructure_pid").asText()).matches("default:[a-z0-9-]+-[a-z0-9]{5}");
        JsonNode job = cluster.get("jobs", ref.namespace(), ref.name());
        assertThat(job.at("/metadata/labels/prefect.io~1flow-run-id").asText()).isEqualTo(id);
        assertThat(job.at("/metadata/labels/prefect.io~1work-pool-name").asText()).isEqualTo(pool);
        await(WAIT, () -> prefect.eventCount("prefect.worker.executed-flow-run") == 1, "executed-flow-run event");
        // the pod's events reach Prefect with the run among their related resources
        JsonNode succeeded = prefect.events().stream()
                .filter(e -> e.path("event").asText().equals("prefect.kubernetes.pod.succeeded")).findFirst().orElseThrow();
        assertThat(succeeded.path("resource").path("kubernetes.namespace").asText()).isEqualTo("default");
        assertThat(succeeded.path("related").findValuesAsText("prefect.resource.id")).contains("prefect.flow-run." + id);
        prefect.assertNoContractViolations();
    }

    @Test
    void exitOneCrashesTheRunWithTheCodeAndTheLogTail() throws Exception {
        String id = prefect.createFlowRun(deployment("echo about to fail; exit 1"), "{}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("non-zero status code 1").contains("Kubernetes job failed")
                .contains("about to fail");
        prefect.assertNoContractViolations();
    }

    @Test
    void cancellingDeletesTheJobAndMarksTheRunCancelled() throws Exception {
        String id = prefect.createFlowRun(deployment("trap '' TERM; while true; do sleep 1; done"), "{}");
        await(WAIT, () -> job(id) != null && cluster.list("pods", "default").stream()
                .anyMatch(p -> p.at("/status/phase").asText().equals("Running")), "pod running");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        long start = System.nanoTime();
        prefect.setFlowRunState(id, "CANCELLING", "Cancelling");
        await(WAIT, () -> prefect.stateType(id).equals("CANCELLED"), "run cancelled");
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).as("grace 2 s plus a few").isLessThan(15);
        JobRef ref = job(id);
        await(WAIT, () -> cluster.get("jobs", ref.namespace(), ref.name()) == null, "job deleted");
        assertThat(cluster.requests()).anyMatch(r -> r.startsWith("DELETE /apis/batch/v1/namespaces/default/jobs/"
                + ref.name()) && r.contains("propagationPolicy=Foreground"));
        prefect.assertNoContractViolations();
    }

    @Test
    void aJobDeletedFromOutsideCrashesTheRun() throws Exception {
        String id = prefect.createFlowRun(deployment("sleep 60"), "{}");
        await(WAIT, () -> job(id) != null, "job created");
        prefect.setFlowRunState(id, "RUNNING", "Running");
        JobRef ref = job(id);
        cluster.delete("jobs", ref.namespace(), ref.name(), "Background");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        // deleted while watched, or before the watch began (the launch returns once the Job exists): either way gone
        assertThat(prefect.stateMessage(id)).containsPattern("Kubernetes job default/" + ref.name()
                + " (was deleted|no longer exists)");
        prefect.assertNoContractViolations();
    }

    @Test
    void anImageThatCannotBePulledIsLoggedAsPendingThenCrashesTheRun() throws Exception {
        String id = prefect.createFlowRun(deployment("true"), "{\"image\": \"127.0.0.1:1/flows:1\", "
                + "\"pod_watch_timeout_seconds\": 3}");
        await(WAIT, () -> prefect.stateType(id).equals("CRASHED"), "run crashed");
        assertThat(prefect.stateMessage(id)).contains("Image pull failure").contains("pod_watch_timeout_seconds");
        await(WAIT, () -> prefect.logs().stream().anyMatch(l -> l.path("flow_run_id").asText().equals(id)
                && l.path("message").asText().startsWith("Image pull failure")), "pending diagnosis in the run's logs");
        prefect.assertNoContractViolations();
    }
}
