package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.settings.Settings;
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
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The event path against real servers: a run created with "Run" ({@code POST /deployments/{id}/create_flow_run})
 * is claimed within seconds by a worker polling every 60 s. Needs ../shared/prefect-server (root, ports
 * 4620–4621): {@code PWORKER_PREFECT_REF}, else the checkout's {@code ../shared/prefect-server/prefect-ref}. Without
 * it the test fails under {@code CI=true} and is skipped, with the reason printed, elsewhere.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class EventPickupRealServerTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The bundle's script; Surefire runs tests in the module directory, two levels below {@code ../shared}. */
    private static String prefectRef() {
        String configured = System.getenv("PWORKER_PREFECT_REF");
        Path script = configured != null && !configured.isBlank() ? Path.of(configured)
                : Path.of("").toAbsolutePath().getParent().getParent().resolve("shared/prefect-server/prefect-ref");
        if (!Files.isRegularFile(script)) {
            String reason = "no Prefect server bundle at " + script + " (set PWORKER_PREFECT_REF)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                org.junit.jupiter.api.Assertions.fail("CI=true, so this fails instead of being skipped: " + reason);
            }
            System.err.println("[worker-core] SKIPPED (not in CI): " + reason);
            org.junit.jupiter.api.Assumptions.abort(reason);
        }
        return script.toString();
    }
    private final HttpClient http = HttpClient.newHttpClient();

    /**
     * The server's port: the one listed with the test, or, on a machine where several checkouts run tests at once,
     * the first (3.4.25) or second (3.8.3) of {@code PWORKER_REAL_SERVER_PORTS} ("4634,4635").
     */
    private static int port(String version, int listed) {
        String ports = System.getenv("PWORKER_REAL_SERVER_PORTS");
        if (ports == null || ports.isBlank()) {
            return listed;
        }
        String[] both = ports.split(",");
        return Integer.parseInt(both[version.equals("3.4.25") ? 0 : Math.min(1, both.length - 1)].strip());
    }

    @ParameterizedTest
    @CsvSource({"3.4.25, 4620", "3.8.3, 4621"})
    void aRunCreatedWithRunIsClaimedWithinSecondsAtASixtySecondPollInterval(String version, int csvPort) throws Exception {
        String prefectRef = prefectRef();
        int port = port(version, csvPort);
        List<String> start = version.equals("3.4.25")
                ? List.of(prefectRef, "start", "--port", Integer.toString(port), "--fresh")
                : List.of(prefectRef, "start", "--version", version, "--port", Integer.toString(port), "--fresh");
        assertThat(runTool(start, 180)).isZero();
        String api = "http://127.0.0.1:" + port + "/api";
        Path state = Files.createTempDirectory("pworker-real-state");
        Worker worker = null;
        try {
            ObjectNode pool = JSON.createObjectNode().put("name", "events").put("type", "stub");
            pool.set("base_job_template", JSON.readTree(StubPlugin.TEMPLATE));
            post(api, "/work_pools/", pool);
            String flow = post(api, "/flows/", JSON.createObjectNode().put("name", "f")).path("id").asText();
            String deployment = post(api, "/deployments/", JSON.createObjectNode().put("name", "d").put("flow_id", flow)
                    .put("work_pool_name", "events")).path("id").asText();

            Map<String, String> settings = Map.of("PREFECT_API_URL", api, "PREFECT_WORKER_QUERY_SECONDS", "60",
                    "PREFECT_WORKER_PREFETCH_SECONDS", "0");
            worker = Worker.create(Settings.from(settings), WorkerOptions.of("events", "stub").withName("real"),
                    new PluginRegistry(List.of(new StubPlugin())), Map.of("PWORKER_STATE_DIR", state.toString()),
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Clock.systemUTC());
            worker.start();
            // the first poll has been made and the subscription is open well within this
            Thread.sleep(5_000);
            for (int i = 0; i < 3; i++) {
                String run = post(api, "/deployments/" + deployment + "/create_flow_run", JSON.createObjectNode())
                        .path("id").asText();
                Instant deadline = Instant.now().plusSeconds(5);
                String type = "SCHEDULED";
                while (type.equals("SCHEDULED") && Instant.now().isBefore(deadline)) {
                    Thread.sleep(50);
                    type = get(api, "/flow_runs/" + run).path("state_type").asText();
                }
                assertThat(type).as("run %d on Prefect %s, 5 s after it was created", i, version).isNotEqualTo("SCHEDULED");
            }
        } finally {
            if (worker != null) {
                worker.stop();
            }
            runTool(List.of(prefectRef, "stop", "--port", Integer.toString(port)), 60);
        }
    }

    /**
     * Runs prefect-ref within {@code seconds}, its output copied to this JVM's System.out: written straight to the
     * inherited descriptor it would corrupt surefire's channel to the forked JVM.
     */
    private static int runTool(List<String> command, int seconds) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        Thread copy = Thread.ofVirtual().start(() -> {
            try (var out = p.getInputStream()) {
                out.transferTo(System.out);
            } catch (java.io.IOException e) {
                // the tool ended or was killed
            }
        });
        if (!p.waitFor(seconds, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish within " + seconds + " s");
        }
        copy.join(5_000);
        return p.exitValue();
    }

    private JsonNode post(String api, String path, JsonNode body) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(api + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build());
    }

    private JsonNode get(String api, String path) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(api + path)).GET().build());
    }

    private JsonNode send(HttpRequest request) throws Exception {
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        // SQLite's "database is locked" comes back as 503 while the worker writes too: ask again, as a client should
        for (int i = 0; i < 20 && r.statusCode() == 503; i++) {
            Thread.sleep(250);
            r = http.send(request, HttpResponse.BodyHandlers.ofString());
        }
        assertThat(r.statusCode()).as(request.method() + " " + request.uri() + ": " + r.body()).isLessThan(300);
        return JSON.readTree(r.body());
    }
}
