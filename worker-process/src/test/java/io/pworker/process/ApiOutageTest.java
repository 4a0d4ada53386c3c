package io.pworker.process;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.TcpProxy;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Prefect API goes away for two minutes while flow runs finish: the worker keeps watching, reports every
 * run's end once the API is back, launches nothing twice, and {@code /health} says 503 in between.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ApiOutageTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration OUTAGE = Duration.ofMinutes(2);
    private static final Duration WAIT = Duration.ofSeconds(45);

    @TempDir
    Path dir;
    private final FakePrefectServer prefect = FakePrefectServer.start();
    private final TcpProxy proxy = TcpProxy.to(URI.create(prefect.apiUrl()).getPort());
    private Worker worker;

    @AfterEach
    void cleanUp() {
        if (worker != null) {
            worker.stop();
        }
        proxy.close();
        prefect.close();
    }

    private int health() {
        try (HttpClient c = HttpClient.newHttpClient()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + worker.healthPort() + "/health")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (java.io.IOException e) {
            return List.of();
        }
    }

    @Test
    void runsThatEndDuringAnOutageAreReportedWhenTheApiIsBack() throws Exception {
        Map<String, String> settings = prefect.workerSettings(
                "PREFECT_API_URL", "http://127.0.0.1:" + proxy.port() + "/api",
                "PREFECT_CLIENT_MAX_RETRIES", "2",
                "PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1", "PREFECT_WORKER_WEBSERVER_PORT", "0");
        worker = Worker.create(Settings.from(settings), WorkerOptions.of("pool", "process").withName("w1")
                        .withHealthcheck(true), new PluginRegistry(List.of(new ProcessPlugin())),
                Map.of("PATH", System.getenv("PATH")), new PrintStream(new ByteArrayOutputStream(), true,
                        StandardCharsets.UTF_8), Clock.systemUTC());
        worker.start();
        Path launches = dir.resolve("launches");
        String flowId = prefect.createFlow("etl");
        List<String> runs = new ArrayList<>();
        for (int seconds : new int[] {10, 30, 60, 90}) {
            String dep = prefect.createDeployment(flowId, "sleep-" + seconds, "pool", JSON.readTree(
                    "{\"stream_output\": false, \"command\": " + JSON.writeValueAsString("sh -c 'echo $PREFECT__FLOW_RUN_ID >> "
                            + launches + "; sleep " + seconds + "; exit 3'") + "}"));
            runs.add(prefect.createFlowRun(dep, "{}"));
        }
        await(WAIT, () -> runs.stream().allMatch(id -> !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty()),
                "all runs launched");
        assertThat(health()).isEqualTo(200);

        proxy.close();
        long outageStart = System.nanoTime();
        await(WAIT, () -> health() == 503, "unhealthy while no poll gets an answer");
        Thread.sleep(Math.max(0, OUTAGE.toMillis() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - outageStart)));
        assertThat(runs).allSatisfy(id -> assertThat(prefect.stateType(id)).as("nothing reported while down").isEqualTo("PENDING"));
        proxy.open();

        await(WAIT, () -> runs.stream().allMatch(id -> prefect.stateType(id).equals("CRASHED")), "every end reported");
        for (String id : runs) {
            assertThat(prefect.stateMessage(id)).startsWith("Flow run infrastructure exited with non-zero status code 3.");
            assertThat(prefect.stateProposals(id)).filteredOn(p -> p.path("state").path("type").asText().equals("CRASHED"))
                    .hasSize(1);
        }
        await(WAIT, () -> health() == 200, "healthy again");
        String after = prefect.createFlowRun(prefect.createDeployment(flowId, "after", "pool", JSON.readTree(
                "{\"stream_output\": false, \"command\": " + JSON.writeValueAsString("sh -c 'echo $PREFECT__FLOW_RUN_ID >> "
                        + launches + "'") + "}")), "{}");
        await(WAIT, () -> !prefect.flowRun(after).path("infrastructure_pid").asText("").isEmpty(), "polling again");
        await(WAIT, () -> lines(launches).contains(after), "new run launched");
        List<String> launched = lines(launches);
        assertThat(launched).as("each run launched once").doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(
                java.util.stream.Stream.concat(runs.stream(), java.util.stream.Stream.of(after)).toList());
        prefect.assertNoContractViolations();
    }
}
