package io.pworker.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** The parts of a real Prefect server's REST API these tests read and write, with {@code java.net.http}. */
final class PrefectApi {

    static final ObjectMapper JSON = new ObjectMapper();
    /** What a busy SQLite-backed server answers now and then ("database is locked"); worth another try. */
    private static final Set<Integer> RETRY = Set.of(502, 503, 504, 429);

    private final String base;
    // HTTP/1.1: the default (HTTP/2) sends an h2c upgrade with every plain-http request, which the server's uvicorn
    // refuses with an "Unsupported upgrade request" warning each time
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    PrefectApi(String apiUrl) {
        this.base = apiUrl.endsWith("/") ? apiUrl.substring(0, apiUrl.length() - 1) : apiUrl;
    }

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    record Response(int status, JsonNode body) {
    }

    Response send(String method, String path, JsonNode body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Accept", "application/json");
        if (body == null) {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
        }
        HttpRequest request = b.build();
        IOException lastError = null;
        HttpResponse<String> last = null;
        // patient: under a burst the database can stay locked for many seconds, and a test's own call failing
        // would say nothing about the worker
        for (int attempt = 0; attempt < 20; attempt++) {
            if (attempt > 0) {
                Thread.sleep(Math.min(3000, 200L << attempt));
            }
            try {
                last = http.send(request, HttpResponse.BodyHandlers.ofString());
                lastError = null;
                if (!RETRY.contains(last.statusCode())) {
                    break;
                }
            } catch (IOException e) {
                lastError = e;
            }
        }
        if (lastError != null) {
            throw lastError;
        }
        String text = last.body();
        return new Response(last.statusCode(), text == null || text.isBlank() ? JSON.nullNode() : parse(text));
    }

    /** A 2xx body, or an exception naming the call and the server's answer. */
    JsonNode call(String method, String path, JsonNode body) throws IOException, InterruptedException {
        Response r = send(method, path, body);
        if (r.status / 100 != 2) {
            throw new IOException(method + " " + path + " -> " + r.status + " " + r.body);
        }
        return r.body;
    }

    JsonNode get(String path) throws IOException, InterruptedException {
        return call("GET", path, null);
    }

    JsonNode post(String path, JsonNode body) throws IOException, InterruptedException {
        return call("POST", path, body);
    }

    Optional<JsonNode> workPool(String name) throws IOException, InterruptedException {
        Response r = send("GET", "/work_pools/" + enc(name), null);
        if (r.status == 404) {
            return Optional.empty();
        }
        if (r.status / 100 != 2) {
            throw new IOException("GET /work_pools/" + name + " -> " + r.status + " " + r.body);
        }
        return Optional.of(r.body);
    }

    /** Creates a pool of {@code type} with {@code template} as its base job template. */
    void createWorkPool(String name, String type, JsonNode template) throws IOException, InterruptedException {
        ObjectNode body = object().put("name", name).put("type", type);
        body.set("base_job_template", template);
        post("/work_pools/", body);
    }

    JsonNode workers(String pool) throws IOException, InterruptedException {
        return post("/work_pools/" + enc(pool) + "/workers/filter", object());
    }

    String createFlow(String name) throws IOException, InterruptedException {
        return post("/flows/", object().put("name", name)).path("id").asText();
    }

    /**
     * A deployment whose runs execute {@code entrypoint} from {@code flowDir}: what {@code prefect deploy} stores
     * for local code, i.e. the path, a pull step that enters the directory, and the entrypoint.
     */
    String createDeployment(String flowId, String name, String pool, String flowDir, String entrypoint, JsonNode jobVariables)
            throws IOException, InterruptedException {
        ObjectNode body = object().put("name", name).put("flow_id", flowId).put("work_pool_name", pool);
        if (flowDir != null) {
            body.put("path", flowDir).put("entrypoint", entrypoint);
            body.putArray("pull_steps").addObject().putObject("prefect.deployments.steps.set_working_directory")
                    .put("directory", flowDir);
        }
        body.set("job_variables", jobVariables);
        return post("/deployments/", body).path("id").asText();
    }

    /** A run of the deployment, SCHEDULED for now. */
    String createFlowRun(String deploymentId) throws IOException, InterruptedException {
        return post("/deployments/" + deploymentId + "/create_flow_run", object()).path("id").asText();
    }

    JsonNode flowRun(String id) throws IOException, InterruptedException {
        return get("/flow_runs/" + id);
    }

    /** The run's state history, oldest first. */
    List<JsonNode> states(String flowRunId) throws IOException, InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        get("/flow_run_states/?flow_run_id=" + flowRunId).forEach(out::add);
        out.sort((a, b) -> a.path("timestamp").asText().compareTo(b.path("timestamp").asText()));
        return out;
    }

    JsonNode setState(String flowRunId, String type, String name, boolean force) throws IOException, InterruptedException {
        ObjectNode body = object().put("force", force);
        body.putObject("state").put("type", type).put("name", name);
        return post("/flow_runs/" + flowRunId + "/set_state", body);
    }

    /** Runs matching a {@code flow_runs} filter ({@code FlowRunFilter}), every page of them. */
    List<JsonNode> flowRuns(JsonNode flowRunFilter) throws IOException, InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        for (int offset = 0; ; offset += 200) {
            ObjectNode body = object().put("limit", 200).put("offset", offset).put("sort", "ID_DESC");
            body.set("flow_runs", flowRunFilter);
            JsonNode page = post("/flow_runs/filter", body);
            page.forEach(out::add);
            if (page.size() < 200) {
                return out;
            }
        }
    }

    /** Flow-run logs of one run, in the order the server keeps them. */
    List<JsonNode> logs(String flowRunId) throws IOException, InterruptedException {
        ObjectNode body = object().put("limit", 200).put("sort", "TIMESTAMP_ASC");
        body.putObject("logs").putObject("flow_run_id").putArray("any_").add(flowRunId);
        List<JsonNode> out = new ArrayList<>();
        post("/logs/filter", body).forEach(out::add);
        return out;
    }

    /** Events of one resource (e.g. {@code prefect.worker.process.<name>}) over the last hour, at most 50. */
    List<JsonNode> events(String resourceId) throws IOException, InterruptedException {
        // 50 is the most a page may hold (a larger limit is a 422)
        ObjectNode body = object().put("limit", 50);
        ObjectNode filter = body.putObject("filter");
        filter.putObject("occurred").put("since", Instant.now().minus(Duration.ofHours(1)).toString())
                .put("until", Instant.now().plus(Duration.ofMinutes(5)).toString());
        filter.putObject("resource").putArray("id").add(resourceId);
        List<JsonNode> out = new ArrayList<>();
        post("/events/filter", body).path("events").forEach(out::add);
        return out;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
