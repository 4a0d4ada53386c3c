package io.pworker.api;

import static io.pworker.api.PrefectHttp.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The Prefect API calls a worker makes (worker-spec §0.2), with request bodies shaped exactly as Prefect's own
 * worker sends them. Answers are Jackson trees; callers read the few fields they need. An answer of the wrong
 * shape (an array where an object belongs, a bare string, no body) is an {@link ApiException} naming the call and
 * what came back, so that no caller acts on an answer it could not read — above all, a pool that could not be
 * read is never "repaired" with a PATCH.
 */
public final class PrefectClient implements AutoCloseable {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    /** Prefect's wire format for datetimes: microseconds and an explicit UTC offset. */
    public static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx").withZone(ZoneOffset.UTC);

    private final PrefectHttp http;

    public PrefectClient(PrefectHttp http) {
        this.http = http;
    }

    public PrefectHttp http() {
        return http;
    }

    public Optional<JsonNode> readWorkPool(String pool) throws ApiException, InterruptedException {
        String path = "/work_pools/" + segment(pool);
        return object(http.get(path), "GET", path);
    }

    /** Creates a pool; returns empty when it already exists (409: another worker won the race). */
    public Optional<JsonNode> createWorkPool(String pool, String type, JsonNode baseJobTemplate)
            throws ApiException, InterruptedException {
        ObjectNode body = F.objectNode().put("name", pool).put("type", type);
        if (baseJobTemplate != null) {
            body.set("base_job_template", baseJobTemplate);
        }
        try {
            ApiResponse r = http.post("/work_pools/", body);
            if (r.status() == 404) {
                // a Prefect server answers this for paths outside its API: the URL most likely lacks its /api
                throw new ApiException("POST", "/work_pools/", 404, "POST /work_pools/ failed with HTTP 404"
                        + detail(r) + " (is PREFECT_API_URL " + http.settings().apiUrl() + " the API root, ending in /api?)",
                        null);
            }
            return Optional.of(requireObject(r, "POST", "/work_pools/"));
        } catch (ApiException e) {
            if (e.status() == 409) {
                return Optional.empty();
            }
            throw e;
        }
    }

    public void updateWorkPoolTemplate(String pool, JsonNode baseJobTemplate) throws ApiException, InterruptedException {
        expectFound(http.patch("/work_pools/" + segment(pool), F.objectNode().set("base_job_template", baseJobTemplate)),
                "PATCH", "/work_pools/" + pool);
    }

    /** Queues of the pool, restricted to {@code names} when given; empty when the pool does not exist. */
    public List<JsonNode> readWorkQueues(String pool, Collection<String> names) throws ApiException, InterruptedException {
        // Prefect's client sends explicit nulls here; the API document does not allow them, the defaults are the same
        ObjectNode body = F.objectNode();
        if (names != null && !names.isEmpty()) {
            ArrayNode any = body.putObject("work_queues").putObject("name").putArray("any_");
            names.forEach(any::add);
        }
        String path = "/work_pools/" + segment(pool) + "/queues/filter";
        return list(http.post(path, body), "POST", path);
    }

    /**
     * Sends a heartbeat. On Prefect Cloud, asks for the worker id until it is known and returns it.
     * Self-hosted servers answer 204 and this returns empty.
     */
    public Optional<String> heartbeat(String pool, String workerName, long intervalSeconds, boolean askForId)
            throws ApiException, InterruptedException {
        ObjectNode body = F.objectNode().put("name", workerName).put("heartbeat_interval_seconds", intervalSeconds);
        if (askForId) {
            body.put("return_id", true);
        }
        ApiResponse r;
        try {
            r = http.post("/work_pools/" + segment(pool) + "/workers/heartbeat", body);
        } catch (ApiException e) {
            if (askForId && e.status() == 422) {
                // Cloud refuses return_id on some plans; a heartbeat without it still keeps us online
                heartbeat(pool, workerName, intervalSeconds, false);
                return Optional.empty();
            }
            throw e;
        }
        expectFound(r, "POST", "/work_pools/" + pool + "/workers/heartbeat");
        if (askForId && r.body() != null) {
            String text = r.body().isTextual() ? r.body().asText() : r.body().toString();
            text = text.strip().replace("\"", "");
            try {
                return Optional.of(UUID.fromString(text).toString());
            } catch (IllegalArgumentException e) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    /**
     * Scheduled runs due before {@code scheduledBefore}. A 404 (pool gone, or a queue name that does not exist)
     * reads as "nothing to do", as in Prefect; the caller warns about unknown queues separately.
     */
    public List<JsonNode> scheduledFlowRuns(String pool, Collection<String> queues, Instant scheduledBefore)
            throws ApiException, InterruptedException {
        ObjectNode body = F.objectNode();
        ArrayNode names = body.putArray("work_queue_names");
        queues.forEach(names::add);
        body.put("scheduled_before", TIMESTAMP.format(scheduledBefore));
        String path = "/work_pools/" + segment(pool) + "/get_scheduled_flow_runs";
        return list(http.post(path, body), "POST", path);
    }

    public Optional<JsonNode> readDeployment(String id) throws ApiException, InterruptedException {
        String path = "/deployments/" + segment(id);
        return object(http.get(path), "GET", path);
    }

    public Optional<JsonNode> readFlow(String id) throws ApiException, InterruptedException {
        String path = "/flows/" + segment(id);
        return object(http.get(path), "GET", path);
    }

    public Optional<JsonNode> readFlowRun(String id) throws ApiException, InterruptedException {
        String path = "/flow_runs/" + segment(id);
        return object(http.get(path), "GET", path);
    }

    /**
     * Proposes a state. The same body (same transition id) is reused by the transport's retries, so a retried
     * claim that the server already accepted comes back as an already-made transition, not as a lost race.
     *
     * @return the orchestration result, or empty when the run no longer exists
     */
    public Optional<OrchestrationResult> setState(String flowRunId, String type, String name, String message,
            boolean force) throws ApiException, InterruptedException {
        return setState(flowRunId, StateProposals.body(flowRunId, type, name, message, force));
    }

    public Optional<OrchestrationResult> setState(String flowRunId, ObjectNode body) throws ApiException, InterruptedException {
        String path = "/flow_runs/" + segment(flowRunId) + "/set_state";
        ApiResponse r = http.post(path, body);
        if (r.status() == 404) {
            return Optional.empty();
        }
        JsonNode result = requireObject(r, "POST", path);
        if (!result.path("status").isTextual()) {
            throw wrongShape(r, "POST", path, "an orchestration result with a 'status'");
        }
        return Optional.of(OrchestrationResult.from(result));
    }

    public void updateLabels(String flowRunId, Map<String, String> labels) throws ApiException, InterruptedException {
        ObjectNode body = F.objectNode();
        labels.forEach(body::put);
        expectFound(http.patch("/flow_runs/" + segment(flowRunId) + "/labels", body), "PATCH",
                "/flow_runs/" + flowRunId + "/labels");
    }

    public void setInfrastructurePid(String flowRunId, String pid) throws ApiException, InterruptedException {
        expectFound(http.patch("/flow_runs/" + segment(flowRunId), F.objectNode().put("infrastructure_pid", pid)),
                "PATCH", "/flow_runs/" + flowRunId);
    }

    /**
     * {@code POST /flow_runs/filter}. Prefect's client fills every key with null; the API document rejects
     * those nulls, so only the filters in use are sent (the server's defaults are the same).
     */
    public List<JsonNode> filterFlowRuns(ObjectNode flowRunFilter, ObjectNode workPoolFilter)
            throws ApiException, InterruptedException {
        ObjectNode body = F.objectNode();
        body.set("flow_runs", flowRunFilter);
        if (workPoolFilter != null) {
            body.set("work_pools", workPoolFilter);
        }
        body.put("offset", 0);
        return list(http.post("/flow_runs/filter", body), "POST", "/flow_runs/filter");
    }

    public Optional<JsonNode> readBlockDocument(String id) throws ApiException, InterruptedException {
        String path = "/block_documents/" + segment(id) + "?include_secrets=true";
        return object(http.get(path), "GET", path);
    }

    public Optional<JsonNode> readBlockDocument(String typeSlug, String name) throws ApiException, InterruptedException {
        String path = "/block_types/slug/" + segment(typeSlug) + "/block_documents/name/" + segment(name)
                + "?include_secrets=true";
        return object(http.get(path), "GET", path);
    }

    public Optional<JsonNode> readVariable(String name) throws ApiException, InterruptedException {
        String path = "/variables/name/" + segment(name);
        return object(http.get(path), "GET", path);
    }

    public void createLogs(ArrayNode logs) throws ApiException, InterruptedException {
        http.post("/logs/", logs);
    }

    /** The version text {@code GET /admin/version} answers, with the transport's retries; empty on 404. */
    public Optional<String> serverVersion() throws ApiException, InterruptedException {
        ApiResponse r = http.get("/admin/version");
        if (r.status() == 404) {
            return Optional.empty();
        }
        if (r.body() == null || !r.body().isTextual()) {
            throw wrongShape(r, "GET", "/admin/version", "a version string");
        }
        return Optional.of(r.body().asText());
    }

    /**
     * Checks the server's version against the release pworker follows (asked once per client, see {@link
     * PrefectHttp#serverVersion()}), and refuses a server of another major version. An unreachable server passes:
     * the worker keeps trying to reach it anyway.
     */
    public ServerVersion checkServerVersion() throws IncompatibleServerException, InterruptedException {
        ServerVersion server = http.serverVersion();
        if (server.compatibility() == ServerVersion.Compatibility.OTHER_MAJOR) {
            throw new IncompatibleServerException(server.describe(http.settings().apiUrl().toString()).orElseThrow(),
                    server);
        }
        return server;
    }

    private static Optional<JsonNode> object(ApiResponse r, String method, String path) throws ApiException {
        return r.status() == 404 ? Optional.empty() : Optional.of(requireObject(r, method, path));
    }

    private static JsonNode requireObject(ApiResponse r, String method, String path) throws ApiException {
        if (r.body() == null || !r.body().isObject()) {
            throw wrongShape(r, method, path, "an object");
        }
        return r.body();
    }

    private static ApiException wrongShape(ApiResponse r, String method, String path, String expected) {
        return new ApiException(method, path, r.status(), method + " " + path + ": the Prefect API answered "
                + r.status() + " with JSON of the wrong shape: expected " + expected + ", got " + kind(r.body()), null);
    }

    private static String kind(JsonNode node) {
        if (node == null) {
            return "no body";
        }
        return switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }

    private static void expectFound(ApiResponse r, String method, String path) throws ApiException {
        if (r.status() == 404) {
            throw new ApiException(method, path, 404, method + " " + path + " failed with HTTP 404" + detail(r), null);
        }
    }

    private static String detail(ApiResponse r) {
        return r.body() != null && r.body().has("detail") ? ": " + r.body().get("detail").asText() : "";
    }

    private static List<JsonNode> list(ApiResponse r, String method, String path) throws ApiException {
        if (r.status() == 404) {
            return List.of();
        }
        if (r.body() == null || !r.body().isArray()) {
            throw wrongShape(r, method, path, "an array");
        }
        for (JsonNode item : r.body()) {
            if (!item.isObject()) {
                throw wrongShape(r, method, path, "an array of objects");
            }
        }
        return java.util.stream.StreamSupport.stream(r.body().spliterator(), false).toList();
    }

    @Override
    public void close() {
        http.close();
    }
}
