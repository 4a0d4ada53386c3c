package io.pworker.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.PrefectTemplates;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * pworker's image, built by deploy/container/build.sh on a base made from this machine's files (no registry),
 * started with host networking against the Prefect API fake on 127.0.0.1: the healthcheck turns healthy, a
 * process run goes through inside it, and {@code docker stop} ends it gracefully. Everything it makes is removed
 * by id or tag.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ContainerImageTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final String suffix = UUID.randomUUID().toString().substring(0, 8);
    private final String base = "pworker-ops-base:" + suffix;
    private final String image = "pworker-ops-image:" + suffix;
    private final List<String> containers = new ArrayList<>();
    private FakePrefectServer prefect;

    @AfterEach
    void cleanUp() throws Exception {
        for (String id : containers) {
            Commands.dockerMay("rm", "-f", id);
        }
        Commands.dockerMay("rmi", image);
        Commands.dockerMay("rmi", base);
        if (prefect != null) {
            prefect.close();
        }
    }

    @Test
    void theImageServesHealthRunsAFlowAndStopsGracefully(@TempDir Path dir) throws Exception {
        Commands.requireDocker();
        Path root = Repo.root();
        Path dist = Repo.distribution();
        Map<String, String> env = Map.of("JAVA_HOME", Commands.javaHome());
        Instant t0 = Instant.now();
        Commands.Result made = Commands.run(Duration.ofMinutes(1), env,
                List.of("bash", root.resolve("deploy/container/make-test-base.sh").toString(), base));
        assertThat(made.code()).as(made.out()).isZero();
        Commands.Result built = Commands.run(Duration.ofMinutes(4), env, List.of("bash",
                root.resolve("deploy/container/build.sh").toString(), "--base", base, "--tag", image, "--dist", dist.toString()));
        assertThat(built.code()).as(built.out()).isZero();
        System.out.println("image built in " + Duration.between(t0, Instant.now()).toSeconds() + " s: "
                + Commands.docker("image", "inspect", "-f", "{{.Size}}", image) + " bytes");
        assertThat(Commands.docker("image", "inspect", "-f", "{{.Config.User}} {{.Config.StopSignal}}", image))
                .isEqualTo("10001:10001 SIGTERM");

        prefect = FakePrefectServer.start();
        prefect.createWorkPool("pool", "process", PrefectTemplates.prefectDefault("process"));
        String flow = prefect.createFlow("etl");
        Path out = Files.createDirectory(dir.resolve("out"));
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxrwxrwx"));
        int port = Commands.freePort();
        List<String> run = new ArrayList<>(List.of("run", "-d", "--network", "host", "--health-interval", "1s",
                "--health-start-period", "60s", "-v", out + ":/out", "--label", "pworker-ops-test=" + suffix));
        Map<String, String> settings = prefect.workerSettings("PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1",
                "PREFECT_WORKER_WEBSERVER_PORT", Integer.toString(port), "PWORKER_KILL_GRACE_SECONDS", "5");
        settings.remove("PWORKER_STATE_DIR");
        settings.forEach((k, v) -> run.addAll(List.of("-e", k + "=" + v)));
        run.addAll(List.of(image, "start", "--pool", "pool", "--type", "process", "--name", "in-a-container"));
        String id = Commands.docker(run.toArray(String[]::new));
        containers.add(id);

        await(Duration.ofSeconds(90), () -> Commands.docker("inspect", "-f", "{{.State.Health.Status}}", id)
                .equals("healthy"), id, "the healthcheck turns healthy");
        assertThat(get(port, "/health")).isEqualTo(200);
        assertThat(get(port, "/ready")).isEqualTo(200);

        String deployment = prefect.createDeployment(flow, "marker", "pool", JSON.readTree(
                "{\"command\": \"sh -c 'echo $PREFECT__FLOW_RUN_ID > /out/marker'\", \"stream_output\": false}"));
        String runId = prefect.createFlowRun(deployment, "{}");
        Path marker = out.resolve("marker");
        await(Duration.ofSeconds(60), () -> Files.exists(marker) && Files.readString(marker).trim().equals(runId),
                id, "the flow run's process ran in the container");
        assertThat(prefect.flowRun(runId).path("infrastructure_pid").asText()).isNotEmpty();
        // the worker deletes a run's record once it has seen the run end
        await(Duration.ofSeconds(30), () -> !Commands.docker("exec", id, "ls", "/var/lib/pworker/state/runs")
                .contains(runId + ".json"), id, "the worker saw the run end");
        System.out.println("memory in use: " + Commands.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", id));

        Instant stopAsked = Instant.now();
        Commands.docker("stop", "-t", "60", id);
        Duration stopping = Duration.between(stopAsked, Instant.now());
        assertThat(Commands.docker("inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", id)).isEqualTo("0 false");
        assertThat(Commands.docker("logs", id)).contains("Worker 'in-a-container' stopped!");
        assertThat(stopping).isLessThan(Duration.ofSeconds(30));
        assertThat(prefect.eventCount("prefect.worker.stopped")).isEqualTo(1);
        prefect.assertNoContractViolations();
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static void await(Duration timeout, Check check, String container, String what) throws Exception {
        Instant end = Instant.now().plus(timeout);
        while (Instant.now().isBefore(end)) {
            if (check.ok()) {
                return;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("not within " + timeout + ": " + what + "\n" + Commands.dockerMay("logs", container).out());
    }

    private static int get(int port, String path) throws Exception {
        try (HttpClient c = HttpClient.newHttpClient()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }
}
