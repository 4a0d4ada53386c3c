package io.pworker.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * A real Prefect server from ../shared/prefect-server, started fresh on one port and stopped at the end, and the
 * few API calls the benchmark makes (pools, deployments, runs, states). Retries the "database is locked" 503s a
 * SQLite server gives under load, as the README of the bundle says to.
 */
final class RealServer implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    final Path prefectRef;
    final String version;
    final int port;
    final String api;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private RealServer(Path prefectRef, String version, int port) {
        this.prefectRef = prefectRef;
        this.version = version;
        this.port = port;
        this.api = "http://127.0.0.1:" + port + "/api";
    }

    static RealServer start(Path prefectRef, String version, int port) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(prefectRef.toString(), "start"));
        if (!version.equals("3.4.25")) {
            cmd.addAll(List.of("--version", version));
        }
        cmd.addAll(List.of("--port", Integer.toString(port), "--fresh"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException("prefect-ref start failed: " + out);
        }
        return new RealServer(prefectRef, version, port);
    }

    /** {@code prefect-ref run [--version V] args…}: the command, as a list ready for a ProcessBuilder. */
    List<String> inside(String... args) {
        List<String> cmd = new ArrayList<>(List.of(prefectRef.toString(), "run"));
        if (!version.equals("3.4.25")) {
            cmd.addAll(List.of("--version", version));
        }
        cmd.addAll(List.of(args));
        return cmd;
    }

    JsonNode get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(api + path)).GET());
    }

    JsonNode post(String path, JsonNode body) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(api + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())));
    }

    private JsonNode send(HttpRequest.Builder request) throws IOException, InterruptedException {
        HttpRequest built = request.timeout(Duration.ofSeconds(60)).build();
        for (int attempt = 1; ; attempt++) {
            HttpResponse<String> r;
            try {
                r = http.send(built, HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                // a kept-alive connection the server closed meanwhile
                if (attempt >= 5) {
                    throw e;
                }
                continue;
            }
            if (r.statusCode() < 300) {
                return r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
            }
            if (r.statusCode() == 404) {
                return null;
            }
            if (attempt >= 40 || (r.statusCode() != 503 && r.statusCode() != 429)) {
                throw new IOException(built.method() + " " + built.uri() + ": " + r.statusCode() + " " + r.body());
            }
            Thread.sleep(Math.min(1_000, 100L * attempt));
        }
    }

    /** A process pool with Prefect's own base job template (taken from one pool made by Prefect's CLI). */
    void createPool(String name, JsonNode template) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("name", name).put("type", "process");
        body.set("base_job_template", template);
        post("/work_pools/", body);
    }

    /** A deployment of flow {@code flowId} in {@code pool} whose runs run {@code command}; its id. */
    String deployment(String flowId, String pool, String command) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("name", pool).put("flow_id", flowId).put("work_pool_name", pool);
        body.putObject("job_variables").put("command", command).put("stream_output", false);
        return post("/deployments/", body).path("id").asText();
    }

    /** A run of the deployment, due now ("Run" in the UI). */
    JsonNode createRun(String deploymentId) throws IOException, InterruptedException {
        return post("/deployments/" + deploymentId + "/create_flow_run", JSON.createObjectNode());
    }

    /** When the pool's default queue was last polled, or null before the first poll. */
    Instant lastPolled(String pool) throws IOException, InterruptedException {
        JsonNode q = get("/work_pools/" + pool + "/queues/default");
        return q == null || q.path("last_polled").isNull() ? null : instant(q.path("last_polled").asText());
    }

    /** The runs of a deployment, as the server has them now. */
    List<JsonNode> runsOf(String deploymentId) throws IOException, InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        for (int offset = 0; ; offset += 200) {
            ObjectNode body = JSON.createObjectNode().put("limit", 200).put("offset", offset);
            body.putObject("deployments").putObject("id").putArray("any_").add(deploymentId);
            JsonNode page = post("/flow_runs/filter", body);
            page.forEach(out::add);
            if (page.size() < 200) {
                return out;
            }
        }
    }

    /**
     * When the run's claims were accepted: its states named Pending (a worker's "Submitting", also of type
     * PENDING, is not a claim). More than one means two workers both launched it.
     */
    List<Instant> pendings(String runId) throws IOException, InterruptedException {
        List<Instant> out = new ArrayList<>();
        for (JsonNode s : get("/flow_run_states/?flow_run_id=" + runId)) {
            if ("PENDING".equals(s.path("type").asText()) && "Pending".equals(s.path("name").asText())) {
                out.add(instant(s.path("timestamp").asText()));
            }
        }
        return out;
    }

    /** Proposes PENDING as a worker's claim does; true when the server accepted it. */
    boolean proposePending(String runId) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode();
        body.putObject("state").put("type", "PENDING").put("name", "Pending");
        return "ACCEPT".equals(post("/flow_runs/" + runId + "/set_state", body).path("status").asText());
    }

    static Instant instant(String timestamp) {
        return OffsetDateTime.parse(timestamp).toInstant();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        new ProcessBuilder(prefectRef.toString(), "stop", "--port", Integer.toString(port)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
    }
}
