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
 * worker sends them. Answers are Jackson trees; callers read the few fields they need.
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
        return found(http.get("/work_pools/" + segment(pool)));
    }

    /** Creates a pool; returns empty when it already exists (409: another worker won the race). */
    public Optional<JsonNode> createWorkPool(String pool, String type, JsonNode baseJobTemplate)
            throws ApiException, InterruptedException {
        ObjectNode body = F.objectNode().put("name", pool).put("type", type);
        if (baseJobTemplate != null) {
            body.set("base_job_template", baseJobTemplate);
        }
        try {
            return Optional.ofNullable(http.post("/work_pools/", body).body());
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
        return list(http.post("/work_pools/" + segment(pool) + "/queues/filter", body));
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
        return list(http.post("/work_pools/" + segment(pool) + "/get_scheduled_flow_runs", body));
    }

    public Optional<JsonNode> readDeployment(String id) throws ApiException, InterruptedException {
        return found(http.get("/deployments/" + segment(id)));
    }

    public Optional<JsonNode> readFlow(String id) throws ApiException, InterruptedException {
        return found(http.get("/flows/" + segment(id)));
    }

    public Optional<JsonNode> readFlowRun(String id) throws ApiException, InterruptedException {
        return found(http.get("/flow_runs/" + segment(id)));
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
        ApiResponse r = http.post("/flow_runs/" + segment(flowRunId) + "/set_state", body);
        if (r.status() == 404 || r.body() == null) {
            return Optional.empty();
        }
        return Optional.of(OrchestrationResult.from(r.body()));
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
        return list(http.post("/flow_runs/filter", body));
    }

    public Optional<JsonNode> readBlockDocument(String id) throws ApiException, InterruptedException {
        return found(http.get("/block_documents/" + segment(id) + "?include_secrets=true"));
    }

    public Optional<JsonNode> readBlockDocument(String typeSlug, String name) throws ApiException, InterruptedException {
        return found(http.get("/block_types/slug/" + segment(typeSlug) + "/block_documents/name/" + segment(name)
                + "?include_secrets=true"));
    }

    public Optional<JsonNode> readVariable(String name) throws ApiException, InterruptedException {
        return found(http.get("/variables/name/" + segment(name)));
    }

    public void createLogs(ArrayNode logs) throws ApiException, InterruptedException {
        http.post("/logs/", logs);
    }

    public Optional<String> serverVersion() throws ApiException, InterruptedException {
        return found(http.get("/admin/version")).map(JsonNode::asText);
    }

    private static Optional<JsonNode> found(ApiResponse r) {
        return r.status() == 404 ? Optional.empty() : Optional.ofNullable(r.body());
    }

    private static void expectFound(ApiResponse r, String method, String path) throws ApiException {
        if (r.status() == 404) {
            String detail = r.body() != null && r.body().has("detail") ? ": " + r.body().get("detail").asText() : "";
            throw new ApiException(method, path, 404, method + " " + path + " failed with HTTP 404" + detail, null);
        }
    }

    private static List<JsonNode> list(ApiResponse r) {
        if (r.status() == 404 || r.body() == null || !r.body().isArray()) {
            return List.of();
        }
        return java.util.stream.StreamSupport.stream(r.body().spliterator(), false).toList();
    }

    @Override
    public void close() {
        http.close();
    }
}
