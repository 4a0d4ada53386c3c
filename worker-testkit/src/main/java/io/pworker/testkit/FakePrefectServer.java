package io.pworker.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fake self-hosted Prefect 3.4 server for worker tests: the REST calls and event sockets a worker uses, with
 * the orchestration rules that decide who launches a run. Every request it receives and every response it sends
 * is checked against Prefect's OpenAPI document ({@link #contractViolations()}); a request body the real server
 * would refuse gets its 422.
 *
 * <p>{@link #setServerVersion} picks the Prefect version it claims on {@code /admin/version} (3.4.25 by default)
 * and how its event sockets behave, as measured against real 3.4.25 and 3.8.3 servers:
 * <ul>
 *   <li>{@code /events/in} before 3.7.0: no subprotocol is selected and every frame is an event; an auth message
 *       is a contract violation and drops the socket without a close frame, as 3.4.25 does;</li>
 *   <li>{@code /events/in} from 3.7.0 with the {@code prefect} subprotocol: the auth message must come first
 *       (else close 1008 "Expected 'auth' message"); without the subprotocol, plain events as before 3.7.0;</li>
 *   <li>{@code /events/out} with the subprotocol: auth first on every version; without it, 3.4.25 refuses the
 *       upgrade (403) and 3.7.0+ take the filter as the first frame (else close 1002).</li>
 * </ul>
 *
 * <p>Faults: {@link #failNext} answers an error to matching calls, {@link #answerNext} any status and body,
 * {@link #loseResponsesNext} processes a call and then answers 502 (a response lost on the way back),
 * {@link #outageOn} makes the whole server answer 503 for a while from a matching call on, and
 * {@link #setAvailable} does so until told otherwise.
 *
 * <p>All state lives behind this object's monitor; connections are served on virtual threads.
 */
public final class FakePrefectServer implements AutoCloseable, HttpTransport.Handler {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
            .withZone(ZoneOffset.UTC);
    private static final Set<String> TERMINAL = Set.of("COMPLETED", "FAILED", "CANCELLED", "CRASHED");

    private final HttpTransport transport;
    private final ContractValidator contract = ContractValidator.get();
    /** Off only in benchmarks, where validating each exchange would be timed as the worker's latency. */
    private volatile boolean contractChecks = true;

    private final Map<String, ObjectNode> pools = new LinkedHashMap<>();
    private final Map<String, ObjectNode> queues = new LinkedHashMap<>();
    private final Map<String, ObjectNode> flows = new LinkedHashMap<>();
    private final Map<String, ObjectNode> deployments = new LinkedHashMap<>();
    private final Map<String, ObjectNode> runs = new LinkedHashMap<>();
    private final Map<String, Set<String>> transitions = new HashMap<>();
    private final Map<String, List<JsonNode>> proposals = new HashMap<>();
    private final Map<String, ObjectNode> blocksById = new HashMap<>();
    private final Map<String, String> blockIds = new HashMap<>();
    private final Map<String, ObjectNode> variables = new HashMap<>();

    private final List<RecordedRequest> requests = new CopyOnWriteArrayList<>();
    private final List<JsonNode> events = new CopyOnWriteArrayList<>();
    private final List<JsonNode> logs = new CopyOnWriteArrayList<>();
    private final List<JsonNode> heartbeats = new CopyOnWriteArrayList<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    private final List<Failure> failures = new CopyOnWriteArrayList<>();
    private final Set<Socket> eventSockets = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong unavailableAnswers = new java.util.concurrent.atomic.AtomicLong();

    private volatile boolean available = true;
    private volatile String serverVersion = "3.4.25";
    private final List<Outage> outages = new CopyOnWriteArrayList<>();
    private volatile long outageUntil;
    private final List<Failure> lostResponses = new CopyOnWriteArrayList<>();
    private volatile boolean eventsSocketEnabled = true;
    private volatile boolean eventSocketsCloseAtOnce;
    private final List<String> upgrades = new CopyOnWriteArrayList<>();
    private volatile String requiredAuthorization;
    private volatile boolean csrf;
    private final Map<String, String> csrfTokens = new java.util.concurrent.ConcurrentHashMap<>();

    private record Subscriber(WebSocketSession session, JsonNode filter) {
    }

    private static final class Failure {
        final String method;
        final Pattern path;
        final int status;
        final double retryAfter;
        final String contentType;
        final String body;
        int remaining;

        Failure(String method, Pattern path, int status, int times, double retryAfter) {
            this(method, path, status, times, retryAfter, "application/json", "{\"detail\":\"injected failure\"}");
        }

        Failure(String method, Pattern path, int status, int times, double retryAfter, String contentType, String body) {
            this.method = method;
            this.path = path;
            this.status = status;
            this.remaining = times;
            this.retryAfter = retryAfter;
            this.contentType = contentType;
            this.body = body;
        }

        /** Uses up one of its times when the request matches. */
        synchronized boolean take(String requestMethod, String requestPath) {
            if (remaining > 0 && method.equalsIgnoreCase(requestMethod) && path.matcher(requestPath).matches()) {
                remaining--;
                return true;
            }
            return false;
        }
    }

    private static final class Outage {
        final String method;
        final Pattern path;
        final Duration length;
        boolean started;

        Outage(String method, Pattern path, Duration length) {
            this.method = method;
            this.path = path;
            this.length = length;
        }
    }

    /** Where workers of {@link #workerSettings} keep their state, so tests never touch the user's ~/.prefect. */
    private final java.nio.file.Path stateDirectory;

    private FakePrefectServer() throws IOException {
        this.transport = new HttpTransport(this);
        this.stateDirectory = java.nio.file.Files.createTempDirectory("pworker-state-");
    }

    public static FakePrefectServer start() {
        try {
            return new FakePrefectServer();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Benchmarks turn the OpenAPI checks off so that the fake answers as fast as it can; tests never do. */
    public void setContractChecks(boolean value) {
        contractChecks = value;
    }

    /**
     * Settings for a worker under test against this fake: its URL and short intervals so that tests take
     * seconds, overridden or extended by {@code keyValues} (name, value, name, value, …).
     */
    public java.util.Map<String, String> workerSettings(String... keyValues) {
        java.util.Map<String, String> s = new java.util.HashMap<>(java.util.Map.of(
                "PREFECT_API_URL", apiUrl(),
                "PREFECT_WORKER_QUERY_SECONDS", "1",
                "PREFECT_WORKER_HEARTBEAT_SECONDS", "1",
                "PREFECT_WORKER_PREFETCH_SECONDS", "0",
                "PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.2",
                "PWORKER_STATE_DIR", stateDirectory.toString()));
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            s.put(keyValues[i], keyValues[i + 1]);
        }
        return s;
    }

    public String apiUrl() {
        return "http://127.0.0.1:" + transport.port() + "/api";
    }

    /** The state directory {@link #workerSettings} gives workers; deleted by {@link #close()}. */
    public java.nio.file.Path stateDirectory() {
        return stateDirectory;
    }

    @Override
    public void close() {
        transport.close();
        try (var paths = java.nio.file.Files.walk(stateDirectory)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }

    // ---------------------------------------------------------------- seeding

    public synchronized String createWorkPool(String name, String type, JsonNode baseJobTemplate) {
        ObjectNode pool = F.objectNode();
        String id = uuid();
        pool.put("id", id);
        stamp(pool);
        pool.put("name", name);
        pool.putNull("description");
        pool.put("type", type);
        pool.set("base_job_template", baseJobTemplate == null ? F.objectNode() : baseJobTemplate.deepCopy());
        pool.put("is_paused", false);
        pool.putNull("concurrency_limit");
        pool.put("status", "NOT_READY");
        ObjectNode storage = pool.putObject("storage_configuration");
        storage.putNull("bundle_upload_step");
        storage.putNull("bundle_execution_step");
        storage.putNull("default_result_storage_block_id");
        pools.put(name, pool);
        pool.put("default_queue_id", createWorkQueue(name, "default"));
        return id;
    }

    public synchronized String createWorkQueue(String poolName, String queueName) {
        ObjectNode pool = pools.get(poolName);
        ObjectNode q = F.objectNode();
        String id = uuid();
        q.put("id", id);
        stamp(q);
        q.put("name", queueName);
        q.putNull("description");
        q.put("is_paused", false);
        q.putNull("concurrency_limit");
        q.put("priority", queues.values().stream().filter(x -> x.path("work_pool_id").asText().equals(pool.get("id").asText())).count() + 1);
        q.put("work_pool_id", pool.get("id").asText());
        q.putNull("filter");
        q.putNull("last_polled");
        q.put("status", "NOT_READY");
        q.put("work_pool_name", poolName);
        queues.put(id, q);
        return id;
    }

    public synchronized void pauseWorkPool(String name, boolean paused) {
        pools.get(name).put("is_paused", paused);
    }

    public synchronized String createFlow(String name) {
        ObjectNode flow = F.objectNode();
        String id = uuid();
        flow.put("id", id);
        stamp(flow);
        flow.put("name", name);
        flow.putArray("tags");
        flow.putObject("labels");
        flows.put(id, flow);
        return id;
    }

    public String createDeployment(String flowId, String name, String poolName, JsonNode jobVariables) {
        return createDeployment(flowId, name, poolName, "default", jobVariables);
    }

    public synchronized String createDeployment(String flowId, String name, String poolName, String queueName,
            JsonNode jobVariables) {
        ObjectNode d = F.objectNode();
        String id = uuid();
        d.put("id", id);
        stamp(d);
        d.put("name", name);
        d.putNull("version");
        d.putNull("description");
        d.put("flow_id", flowId);
        d.put("paused", false);
        d.putArray("schedules");
        d.putNull("concurrency_limit");
        d.putNull("global_concurrency_limit");
        d.putNull("concurrency_options");
        d.set("job_variables", jobVariables == null ? F.objectNode() : jobVariables.deepCopy());
        d.putObject("parameters");
        d.putArray("tags");
        d.putObject("labels").put("prefect.flow.id", flowId);
        d.put("work_queue_name", queueName);
        d.putNull("last_polled");
        d.putObject("parameter_openapi_schema");
        d.putNull("path");
        d.putNull("pull_steps");
        d.put("entrypoint", "flows.py:flow");
        d.putNull("storage_document_id");
        d.putNull("infrastructure_document_id");
        d.putNull("created_by");
        d.putNull("updated_by");
        d.put("work_pool_name", poolName);
        d.put("status", "READY");
        d.put("enforce_parameter_schema", true);
        deployments.put(id, d);
        return id;
    }

    public synchronized void deleteDeployment(String id) {
        deployments.remove(id);
    }

    public String createFlowRun(String deploymentId, JsonNode jobVariables) {
        return createFlowRun(deploymentId, jobVariables, Instant.now(), null);
    }

    /**
     * A SCHEDULED run of the deployment, due at {@code scheduledTime}, in {@code queueName} or the deployment's queue.
     * Subscribers to {@code /events/out} get its {@code prefect.flow-run.Scheduled} event, as from a real server.
     */
    public String createFlowRun(String deploymentId, JsonNode jobVariables, Instant scheduledTime, String queueName) {
        ObjectNode event;
        String id;
        synchronized (this) {
            id = insertFlowRun(deploymentId, jobVariables, scheduledTime, queueName);
            event = stateEvent(runs.get(id));
        }
        publish(event);
        return id;
    }

    private String insertFlowRun(String deploymentId, JsonNode jobVariables, Instant scheduledTime, String queueName) {
        ObjectNode d = deployments.get(deploymentId);
        if (d == null) {
            throw new IllegalArgumentException("no deployment " + deploymentId);
        }
        String poolName = d.get("work_pool_name").asText();
        ObjectNode pool = pools.get(poolName);
        if (pool == null) {
            createWorkPool(poolName, "process", null);
            pool = pools.get(poolName);
        }
        String queue = queueName != null ? queueName : d.get("work_queue_name").asText();
        String queueId = queueId(pool, queue);
        if (queueId == null) {
            queueId = createWorkQueue(poolName, queue);
        }
        ObjectNode r = F.objectNode();
        String id = uuid();
        r.put("id", id);
        stamp(r);
        r.put("name", adjectiveAnimal(runs.size()));
        r.put("flow_id", d.get("flow_id").asText());
        r.putNull("state_id");
        r.put("deployment_id", deploymentId);
        r.putNull("deployment_version");
        r.put("work_queue_name", queue);
        r.putNull("flow_version");
        r.putObject("parameters");
        r.putNull("idempotency_key");
        r.putObject("context");
        ObjectNode policy = r.putObject("empirical_policy");
        policy.put("max_retries", 0);
        policy.put("retry_delay_seconds", 0.0);
        policy.putNull("retries");
        policy.putNull("retry_delay");
        policy.putArray("pause_keys");
        policy.put("resuming", false);
        policy.putNull("retry_type");
        r.putArray("tags");
        r.putObject("labels").put("prefect.flow.id", d.get("flow_id").asText()).put("prefect.deployment.id", deploymentId);
        r.putNull("parent_task_run_id");
        r.putNull("state_type");
        r.putNull("state_name");
        r.put("run_count", 0);
        r.put("expected_start_time", TS.format(scheduledTime));
        r.put("next_scheduled_start_time", TS.format(scheduledTime));
        r.putNull("start_time");
        r.putNull("end_time");
        r.put("total_run_time", 0.0);
        r.put("estimated_run_time", 0.0);
        r.put("estimated_start_time_delta", 0.0);
        r.put("auto_scheduled", false);
        r.putNull("infrastructure_document_id");
        r.putNull("infrastructure_pid");
        r.putNull("created_by");
        r.put("work_queue_id", queueId);
        r.put("work_pool_id", pool.get("id").asText());
        r.put("work_pool_name", poolName);
        r.set("job_variables", jobVariables == null ? F.objectNode() : jobVariables.deepCopy());
        r.putNull("state");
        runs.put(id, r);
        applyState(r, "SCHEDULED", "Scheduled", null, null);
        return id;
    }

    public synchronized String createBlockDocument(String typeSlug, String name, JsonNode data) {
        ObjectNode b = F.objectNode();
        String id = uuid();
        b.put("id", id);
        stamp(b);
        b.put("name", name);
        b.set("data", data.deepCopy());
        b.put("block_schema_id", uuid());
        b.putNull("block_schema");
        b.put("block_type_id", uuid());
        b.put("block_type_name", typeSlug);
        b.putNull("block_type");
        b.putObject("block_document_references");
        b.put("is_anonymous", false);
        blocksById.put(id, b);
        blockIds.put(typeSlug + "/" + name, id);
        return id;
    }

    public synchronized void createVariable(String name, JsonNode value) {
        ObjectNode v = F.objectNode();
        v.put("id", uuid());
        stamp(v);
        v.put("name", name);
        v.set("value", value.deepCopy());
        v.putArray("tags");
        variables.put(name, v);
    }

    // ---------------------------------------------------------------- inspection

    /** A run of the deployment with job variables given as JSON text, scheduled now. */
    public String createFlowRun(String deploymentId, String jobVariablesJson) {
        try {
            return createFlowRun(deploymentId, JSON.readTree(jobVariablesJson));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("job variables are not JSON: " + jobVariablesJson, e);
        }
    }

    /** The run's state type, e.g. {@code "CRASHED"}. */
    public String stateType(String runId) {
        return flowRun(runId).path("state_type").asText();
    }

    /** The run's state name, e.g. {@code "InfrastructurePending"}. */
    public String stateName(String runId) {
        return flowRun(runId).path("state_name").asText();
    }

    /** The message of the run's current state, empty when it has none. */
    public String stateMessage(String runId) {
        return flowRun(runId).path("state").path("message").asText();
    }

    /** How many events with this name the worker has sent, e.g. {@code prefect.worker.executed-flow-run}. */
    public long eventCount(String name) {
        return events().stream().filter(e -> e.path("event").asText().equals(name)).count();
    }

    public synchronized JsonNode flowRun(String id) {
        ObjectNode r = runs.get(id);
        return r == null ? null : r.deepCopy();
    }

    public synchronized JsonNode workPool(String name) {
        ObjectNode p = pools.get(name);
        return p == null ? null : p.deepCopy();
    }

    public List<RecordedRequest> requests() {
        return List.copyOf(requests);
    }

    public List<JsonNode> events() {
        return List.copyOf(events);
    }

    public List<JsonNode> logs() {
        return List.copyOf(logs);
    }

    public List<JsonNode> heartbeats() {
        return List.copyOf(heartbeats);
    }

    public synchronized List<JsonNode> stateProposals(String runId) {
        return List.copyOf(proposals.getOrDefault(runId, List.of()));
    }

    public int eventSubscriberCount() {
        return subscribers.size();
    }

    public List<String> contractViolations() {
        return List.copyOf(violations);
    }

    public void assertNoContractViolations() {
        if (!violations.isEmpty()) {
            throw new AssertionError("Prefect API contract violations:\n  " + String.join("\n  ", violations));
        }
    }

    /** Polls {@code condition} every 20 ms; fails with {@code what} when it is not met in time. */
    public static void await(Duration timeout, BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for: " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what);
            }
        }
    }

    // ---------------------------------------------------------------- driving and faults

    /** Forces a state, as the engine or the UI would; entering CANCELLING notifies event subscribers. */
    public void setFlowRunState(String runId, String type, String name) {
        ObjectNode event;
        synchronized (this) {
            ObjectNode r = runs.get(runId);
            applyState(r, type, name, null, null);
            if (type.equals("SCHEDULED")) {
                // a Scheduled state without a time is due now, and the run is due with it (as on a real server)
                String now = TS.format(Instant.now());
                ((ObjectNode) r.path("state").path("state_details")).put("scheduled_time", now);
                r.put("next_scheduled_start_time", now);
            }
            event = type.equals("CANCELLING") || type.equals("SCHEDULED") ? stateEvent(r) : null;
        }
        if (event != null) {
            publish(event);
        }
    }

    /** Sets the run's {@code infrastructure_pid} as a worker's PATCH would (for runs a test says were launched). */
    public synchronized void setInfrastructurePid(String runId, String pid) {
        runs.get(runId).put("infrastructure_pid", pid);
    }

    public void setAvailable(boolean value) {
        available = value;
        if (!value) {
            transport.dropConnections(eventSockets::contains);
        }
    }

    public void setEventsSocketEnabled(boolean value) {
        eventsSocketEnabled = value;
    }

    /**
     * Event sockets are accepted (and authenticated when the client asks for the handshake) and then closed
     * cleanly at once: the server that made reconnect storms visible.
     */
    public void setEventSocketsCloseAtOnce(boolean value) {
        eventSocketsCloseAtOnce = value;
    }

    /** How many WebSocket upgrades were asked for on this path ({@code /events/in} or {@code /events/out}). */
    public long upgradeCount(String path) {
        return upgrades.stream().filter(path::equals).count();
    }

    public void dropEventSockets() {
        transport.dropConnections(eventSockets::contains);
    }

    public void failNext(String method, String pathRegex, int status, int times, double retryAfterSeconds) {
        failures.add(new Failure(method, Pattern.compile(pathRegex), status, times, retryAfterSeconds));
    }

    /** Answers the next {@code times} matching calls with this status and body, e.g. a proxy's HTML page. */
    public void answerNext(String method, String pathRegex, int status, String contentType, String body, int times) {
        failures.add(new Failure(method, Pattern.compile(pathRegex), status, times, 0, contentType, body));
    }

    /**
     * The next {@code times} matching calls are carried out, then answered 502 as if the response had been lost
     * between the server and the worker: a retry meets the effect of the first attempt.
     */
    public void loseResponsesNext(String method, String pathRegex, int times) {
        lostResponses.add(new Failure(method, Pattern.compile(pathRegex), 502, times, 0));
    }

    /**
     * From the first call matching {@code method} and {@code pathRegex} on (that call included), every call and
     * socket upgrade is answered 503 for {@code length}, as a restarting or overloaded server would.
     */
    public void outageOn(String method, String pathRegex, Duration length) {
        outages.add(new Outage(method, Pattern.compile(pathRegex), length));
    }

    /** How many calls this fake answered with 503 because of {@link #outageOn} or {@link #setAvailable}. */
    public long unavailableAnswers() {
        return unavailableAnswers.get();
    }

    /** The Prefect version this fake claims, and whose event-socket behaviour it copies (see the class comment). */
    public void setServerVersion(String version) {
        serverVersion = version;
    }

    public String serverVersion() {
        return serverVersion;
    }

    /** Whether the claimed version wants the auth message on {@code /events/in} (3.7.0 and later). */
    private boolean eventsInHandshake() {
        return atLeast(3, 7);
    }

    /** Whether the claimed server version is {@code major.minor} or later. */
    private boolean atLeast(int wantMajor, int wantMinor) {
        String[] parts = serverVersion.split("\\.");
        int major = Integer.parseInt(parts[0]);
        int minor = parts.length > 1 ? Integer.parseInt(parts[1].replaceAll("\\D.*", "")) : 0;
        return major > wantMajor || (major == wantMajor && minor >= wantMinor);
    }

    private boolean inOutage(String method, String path) {
        for (Outage o : outages) {
            synchronized (o) {
                if (!o.started && o.method.equalsIgnoreCase(method) && o.path.matcher(path).matches()) {
                    o.started = true;
                    outageUntil = System.nanoTime() + o.length.toNanos();
                }
            }
        }
        return System.nanoTime() - outageUntil < 0;
    }

    public void requireApiKey(String key) {
        requiredAuthorization = "Bearer " + key;
    }

    public void requireAuthString(String userPass) {
        requiredAuthorization = "Basic " + Base64.getEncoder().encodeToString(userPass.getBytes(StandardCharsets.UTF_8));
    }

    public void enableCsrf(boolean value) {
        csrf = value;
    }

    // ---------------------------------------------------------------- HTTP

    @Override
    public HttpTransport.Response handle(HttpTransport.Request request) {
        String target = request.target();
        int q = target.indexOf('?');
        String fullPath = q < 0 ? target : target.substring(0, q);
        String query = q < 0 ? null : target.substring(q + 1);
        String path = fullPath.startsWith("/api") ? fullPath.substring(4) : fullPath;
        String bodyText = new String(request.body(), StandardCharsets.UTF_8);
        JsonNode body = null;
        if (!bodyText.isBlank()) {
            try {
                body = JSON.readTree(bodyText);
            } catch (IOException e) {
                violations.add(request.method() + " " + path + ": body is not JSON: " + e.getMessage());
            }
        }
        Map<String, String> headers = Map.copyOf(request.headers());
        requests.add(new RecordedRequest(request.method(), path, query, headers, body, Instant.now()));
        if (!available || inOutage(request.method(), path)) {
            unavailableAnswers.incrementAndGet();
            return json(503, "{\"exception_message\":\"Service Unavailable\"}");
        }
        for (Failure f : failures) {
            if (f.take(request.method(), path)) {
                Map<String, String> h = new LinkedHashMap<>(Map.of("Content-Type", f.contentType));
                if (f.retryAfter > 0) {
                    h.put("Retry-After", String.valueOf(f.retryAfter));
                }
                return new HttpTransport.Response(f.status, h, f.body.getBytes(StandardCharsets.UTF_8));
            }
        }
        String auth = requiredAuthorization;
        if (auth != null && !auth.equals(request.header("authorization"))) {
            return json(401, "{\"detail\":\"Unauthorized\"}");
        }
        if (csrf && !request.method().equals("GET")) {
            String client = request.header("prefect-csrf-client");
            String token = request.header("prefect-csrf-token");
            if (client == null || token == null || !token.equals(csrfTokens.get(client))) {
                return json(403, "{\"detail\":\"Invalid CSRF token or client identifier.\"}");
            }
        }
        List<String> problems = !contractChecks ? List.of() : contract.checkRequest(request.method(), path, query,
                request.header("content-type"), bodyText.isBlank() ? null : bodyText);
        if (!problems.isEmpty() && !path.equals("/csrf-token")) {
            violations.addAll(problems);
            ObjectNode detail = F.objectNode();
            ArrayNode list = detail.putArray("detail");
            problems.forEach(p -> list.addObject().put("msg", p).put("type", "value_error").putArray("loc").add("body"));
            return json(422, detail.toString());
        }
        HttpTransport.Response response;
        try {
            response = route(request.method(), path, query, body);
        } catch (RuntimeException e) {
            violations.add(request.method() + " " + path + ": the fake failed: " + e);
            return json(500, "{\"exception_message\":\"Internal Server Error\"}");
        }
        for (Failure f : lostResponses) {
            if (f.take(request.method(), path)) {
                return json(502, "{\"detail\":\"Bad Gateway\"}");
            }
        }
        if (contractChecks && (response.status() < 400 || response.status() == 404 || response.status() == 409)) {
            String responseBody = new String(response.body(), StandardCharsets.UTF_8);
            violations.addAll(contract.checkResponse(request.method(), path, response.status(),
                    responseBody.isEmpty() ? null : responseBody));
        }
        return response;
    }

    private static final Pattern POOL = Pattern.compile("/work_pools/([^/]+)(/.*)?");
    private static final Pattern BLOCK_BY_NAME = Pattern.compile("/block_types/slug/([^/]+)/block_documents/name/([^/]+)");

    private HttpTransport.Response route(String method, String path, String query, JsonNode body) {
        Matcher m;
        if (method.equals("POST") && path.equals("/work_pools/")) {
            return createPoolFromApi(body);
        }
        if ((m = POOL.matcher(path)).matches()) {
            String pool = decode(m.group(1));
            String rest = m.group(2) == null ? "" : m.group(2);
            return switch (method + " " + rest) {
                case "GET " -> found(readPool(pool));
                case "PATCH " -> patchPool(pool, body);
                case "POST /queues/filter" -> queuesFilter(pool, body);
                case "POST /workers/heartbeat" -> heartbeat(pool, body);
                case "POST /get_scheduled_flow_runs" -> scheduled(pool, body);
                default -> notFound();
            };
        }
        String[] parts = path.split("/");
        if (method.equals("GET") && path.startsWith("/deployments/") && parts.length == 3) {
            return found(copy(deployments, parts[2]));
        }
        if (method.equals("GET") && path.startsWith("/flows/") && parts.length == 3) {
            return found(copy(flows, parts[2]));
        }
        if (path.equals("/flow_runs/filter") && method.equals("POST")) {
            return filterRuns(body);
        }
        if (path.startsWith("/flow_runs/") && parts.length >= 3) {
            String id = parts[2];
            String rest = parts.length > 3 ? parts[3] : "";
            return switch (method + " " + rest) {
                case "GET " -> found(copy(runs, id));
                case "PATCH " -> patchRun(id, body);
                case "PATCH labels" -> patchLabels(id, body);
                case "POST set_state" -> setState(id, body);
                default -> notFound();
            };
        }
        if ((m = BLOCK_BY_NAME.matcher(path)).matches() && method.equals("GET")) {
            synchronized (this) {
                String id = blockIds.get(decode(m.group(1)) + "/" + decode(m.group(2)));
                return found(id == null ? null : blocksById.get(id).deepCopy());
            }
        }
        if (path.startsWith("/block_documents/") && parts.length == 3 && method.equals("GET")) {
            return found(copy(blocksById, parts[2]));
        }
        if (path.startsWith("/variables/name/") && method.equals("GET")) {
            return found(copy(variables, decode(path.substring("/variables/name/".length()))));
        }
        if (path.equals("/logs/") && method.equals("POST")) {
            body.forEach(logs::add);
            return json(201, "null");
        }
        if (path.equals("/admin/version") && method.equals("GET")) {
            return json(200, JSON.valueToTree(serverVersion).toString());
        }
        if (path.equals("/csrf-token") && method.equals("GET")) {
            if (!csrf) {
                return json(422, "{\"detail\":\"CSRF protection is disabled.\"}");
            }
            String client = query == null ? "" : query.replaceFirst("^client=", "");
            String token = uuid();
            csrfTokens.put(client, token);
            ObjectNode t = F.objectNode().put("token", token).put("client", client)
                    .put("expiration", TS.format(Instant.now().plusSeconds(3600)));
            return json(200, t.toString());
        }
        return notFound();
    }

    private synchronized HttpTransport.Response createPoolFromApi(JsonNode body) {
        String name = body.path("name").asText();
        if (pools.containsKey(name)) {
            return json(409, "{\"detail\":\"A work pool with this name already exists.\"}");
        }
        if (name.toLowerCase(Locale.ROOT).startsWith("prefect")) {
            return json(403, "{\"detail\":\"Work pools starting with 'Prefect' are reserved for internal use.\"}");
        }
        createWorkPool(name, body.path("type").asText("process"), body.get("base_job_template"));
        return json(201, pools.get(name).toString());
    }

    private synchronized ObjectNode readPool(String name) {
        ObjectNode p = pools.get(name);
        return p == null ? null : p.deepCopy();
    }

    private synchronized HttpTransport.Response patchPool(String name, JsonNode body) {
        ObjectNode p = pools.get(name);
        if (p == null) {
            return poolNotFound(name);
        }
        body.properties().forEach(e -> p.set(e.getKey(), e.getValue().deepCopy()));
        p.put("updated", TS.format(Instant.now()));
        return noContent();
    }

    private synchronized HttpTransport.Response queuesFilter(String name, JsonNode body) {
        ObjectNode p = pools.get(name);
        if (p == null) {
            return poolNotFound(name);
        }
        Set<String> names = new HashSet<>();
        body.path("work_queues").path("name").path("any_").forEach(n -> names.add(n.asText()));
        ArrayNode out = F.arrayNode();
        for (ObjectNode q : queues.values()) {
            if (q.path("work_pool_id").asText().equals(p.get("id").asText())
                    && (names.isEmpty() || names.contains(q.path("name").asText()))) {
                out.add(q.deepCopy());
            }
        }
        return json(200, out.toString());
    }

    private synchronized HttpTransport.Response heartbeat(String name, JsonNode body) {
        ObjectNode p = pools.get(name);
        if (p == null) {
            return poolNotFound(name);
        }
        heartbeats.add(body);
        p.put("status", "READY");
        return noContent();
    }

    private synchronized HttpTransport.Response scheduled(String name, JsonNode body) {
        ObjectNode p = pools.get(name);
        if (p == null) {
            return poolNotFound(name);
        }
        Set<String> queueIds = new HashSet<>();
        for (JsonNode n : body.path("work_queue_names")) {
            String id = queueId(p, n.asText());
            if (id == null) {
                return json(404, "{\"detail\":\"Work queue \\\"" + n.asText() + "\\\" not found.\"}");
            }
            queueIds.add(id);
        }
        ArrayNode out = F.arrayNode();
        if (p.path("is_paused").asBoolean(false)) {
            return json(200, out.toString());
        }
        Instant before = OffsetDateTime.parse(body.path("scheduled_before").asText().replace(' ', 'T')).toInstant();
        int limit = body.hasNonNull("limit") ? body.get("limit").asInt() : 200;
        for (ObjectNode r : runs.values()) {
            if (out.size() >= limit) {
                break;
            }
            if (!"SCHEDULED".equals(r.path("state_type").asText()) || !r.path("work_pool_id").asText().equals(p.get("id").asText())
                    || (!queueIds.isEmpty() && !queueIds.contains(r.path("work_queue_id").asText()))) {
                continue;
            }
            if (Instant.parse(r.path("next_scheduled_start_time").asText()).isAfter(before)) {
                continue;
            }
            ObjectNode item = out.addObject();
            item.put("work_pool_id", p.get("id").asText());
            item.put("work_queue_id", r.path("work_queue_id").asText());
            ObjectNode run = r.deepCopy();
            run.putNull("state");
            // this response embeds the plain FlowRun schema, which has no pool fields
            run.remove("work_pool_id");
            run.remove("work_pool_name");
            item.set("flow_run", run);
        }
        return json(200, out.toString());
    }

    private synchronized HttpTransport.Response patchRun(String id, JsonNode body) {
        ObjectNode r = runs.get(id);
        if (r == null) {
            return runNotFound();
        }
        body.properties().forEach(e -> r.set(e.getKey(), e.getValue().deepCopy()));
        return noContent();
    }

    private synchronized HttpTransport.Response patchLabels(String id, JsonNode body) {
        ObjectNode r = runs.get(id);
        if (r == null) {
            return runNotFound();
        }
        ((ObjectNode) r.get("labels")).setAll((ObjectNode) body.deepCopy());
        return noContent();
    }

    private synchronized HttpTransport.Response filterRuns(JsonNode body) {
        JsonNode f = body.path("flow_runs");
        Set<String> ids = values(f.path("id").path("any_"));
        Set<String> types = values(f.path("state").path("type").path("any_"));
        Set<String> names = values(f.path("state").path("name").path("any_"));
        Set<String> poolNames = values(body.path("work_pools").path("name").path("any_"));
        ArrayNode out = F.arrayNode();
        for (ObjectNode r : runs.values()) {
            if ((f.path("id").has("any_") && !ids.contains(r.path("id").asText()))
                    || (!types.isEmpty() && !types.contains(r.path("state_type").asText()))
                    || (!names.isEmpty() && !names.contains(r.path("state_name").asText()))
                    || (!poolNames.isEmpty() && !poolNames.contains(r.path("work_pool_name").asText()))) {
                continue;
            }
            out.add(r.deepCopy());
        }
        return json(200, out.toString());
    }

    private HttpTransport.Response setState(String id, JsonNode body) {
        ObjectNode result;
        ObjectNode event = null;
        synchronized (this) {
            ObjectNode r = runs.get(id);
            if (r == null) {
                return runNotFound();
            }
            proposals.computeIfAbsent(id, k -> new ArrayList<>()).add(body.deepCopy());
            JsonNode proposed = body.path("state");
            String type = proposed.path("type").asText();
            String name = proposed.path("name").asText(type.charAt(0) + type.substring(1).toLowerCase(Locale.ROOT));
            String transition = proposed.path("state_details").path("transition_id").asText(null);
            String current = r.path("state_type").asText("");
            String currentName = r.path("state_name").asText("");
            Set<String> seen = transitions.computeIfAbsent(id, k -> new HashSet<>());
            if (transition != null && !seen.add(transition)) {
                result = orchestration("REJECT", r, "reject_details", "This run has already made this state transition.");
            } else if (body.path("force").asBoolean(false)) {
                applyState(r, type, name, proposed.path("message").asText(null), transition);
                result = orchestration("ACCEPT", r, "accept_details", null);
            } else if (TERMINAL.contains(current)) {
                // the words of the real 3.4.25 and 3.8.3 servers
                result = orchestration("ABORT", r, "abort_details", "Run is already in terminal state " + current);
            } else if (current.equals("CANCELLING") && !type.equals("CANCELLED")) {
                result = orchestration("REJECT", r, "reject_details",
                        "Cannot transition flows that are cancelling to a state other than Cancelled.");
            } else if (type.equals("PENDING") && current.equals("PENDING")
                    && (name.equals("Pending") || name.equals(currentName) || !atLeast(3, 8))) {
                // 3.8.3 takes a second PENDING-type state under another name ("Submitting", "InfrastructurePending");
                // 3.4.25 aborts every PENDING -> PENDING (both checked on the real servers)
                // real 3.4.25 and 3.8.3 servers send the run's current state along with an ABORT
                result = orchestration("ABORT", r, "abort_details",
                        "This run is in a PENDING state and cannot transition to a PENDING state.");
            } else if (type.equals("PENDING") && !current.equals("SCHEDULED") && !current.isEmpty() && !current.equals("PENDING")) {
                result = orchestration("ABORT", r, "abort_details",
                        "This run is in a " + current + " state and cannot transition to a PENDING state.");
            } else {
                applyState(r, type, name, proposed.path("message").asText(null), transition);
                result = orchestration("ACCEPT", r, "accept_details", null);
            }
            if (result.path("status").asText().equals("ACCEPT") && type.equals("CANCELLING")) {
                event = stateEvent(r);
            }
        }
        if (event != null) {
            publish(event);
        }
        return json(result.path("status").asText().equals("ACCEPT") ? 201 : 200, result.toString());
    }

    private static ObjectNode orchestration(String status, ObjectNode run, String detailsType, String reason) {
        ObjectNode o = F.objectNode();
        if (run == null) {
            o.putNull("state");
        } else {
            o.set("state", run.get("state").deepCopy());
        }
        o.put("status", status);
        ObjectNode details = o.putObject("details").put("type", detailsType);
        if (reason != null) {
            details.put("reason", reason);
        }
        return o;
    }

    private void applyState(ObjectNode r, String type, String name, String message, String transition) {
        ObjectNode state = F.objectNode();
        String stateId = uuid();
        String now = TS.format(Instant.now());
        state.put("id", stateId);
        state.put("type", type);
        state.put("name", name);
        state.put("timestamp", now);
        if (message == null) {
            state.putNull("message");
        } else {
            state.put("message", message);
        }
        state.putNull("data");
        ObjectNode details = state.putObject("state_details");
        details.put("flow_run_id", r.get("id").asText());
        details.putNull("task_run_id");
        details.putNull("child_flow_run_id");
        details.putNull("scheduled_time");
        details.putNull("cache_key");
        details.putNull("cache_expiration");
        details.putNull("deferred");
        details.put("untrackable_result", false);
        details.putNull("pause_timeout");
        details.put("pause_reschedule", false);
        details.putNull("pause_key");
        details.putNull("run_input_keyset");
        details.putNull("refresh_cache");
        details.putNull("retriable");
        if (transition == null) {
            details.putNull("transition_id");
        } else {
            details.put("transition_id", transition);
        }
        details.putNull("task_parameters_id");
        details.putNull("traceparent");
        details.putNull("deployment_concurrency_lease_id");
        r.set("state", state);
        r.put("state_id", stateId);
        r.put("state_type", type);
        r.put("state_name", name);
        r.put("updated", now);
        if (type.equals("RUNNING") && r.path("start_time").isNull()) {
            r.put("start_time", now);
            r.put("run_count", r.path("run_count").asInt() + 1);
        }
        if (TERMINAL.contains(type)) {
            r.put("end_time", now);
        }
        if (!type.equals("SCHEDULED")) {
            r.putNull("next_scheduled_start_time");
        }
    }

    /**
     * The event a real server (3.4.25 and 3.8.3 alike) publishes when the run enters its current state: named
     * after the state, the run as resource, its flow, deployment, queue and pool as related resources.
     */
    private ObjectNode stateEvent(ObjectNode r) {
        ObjectNode e = F.objectNode();
        String stateName = r.path("state").path("name").asText();
        e.put("occurred", TS.format(Instant.now()));
        e.put("event", "prefect.flow-run." + stateName);
        ObjectNode res = e.putObject("resource");
        res.put("prefect.resource.id", "prefect.flow-run." + r.get("id").asText());
        res.put("prefect.resource.name", r.path("name").asText());
        res.put("prefect.state-name", stateName);
        res.put("prefect.state-type", r.path("state").path("type").asText());
        ArrayNode related = e.putArray("related");
        related.addObject().put("prefect.resource.id", "prefect.flow." + r.path("flow_id").asText())
                .put("prefect.resource.role", "flow");
        if (r.hasNonNull("deployment_id")) {
            related.addObject().put("prefect.resource.id", "prefect.deployment." + r.path("deployment_id").asText())
                    .put("prefect.resource.role", "deployment");
        }
        related.addObject().put("prefect.resource.id", "prefect.work-queue." + r.path("work_queue_id").asText())
                .put("prefect.resource.role", "work-queue").put("prefect.resource.name", r.path("work_queue_name").asText());
        related.addObject().put("prefect.resource.id", "prefect.work-pool." + r.path("work_pool_id").asText())
                .put("prefect.resource.role", "work-pool").put("prefect.resource.name", r.path("work_pool_name").asText());
        ObjectNode payload = e.putObject("payload");
        payload.putObject("validated_state").put("type", r.path("state").path("type").asText()).put("name", stateName);
        e.put("id", uuid());
        e.putNull("follows");
        e.put("received", TS.format(Instant.now()));
        return e;
    }

    // ---------------------------------------------------------------- WebSockets

    @Override
    public int upgradeStatus(HttpTransport.Request request) {
        String path = request.target().replaceFirst("^/api", "");
        upgrades.add(path);
        if (!available || inOutage("GET", path)) {
            unavailableAnswers.incrementAndGet();
            return 503;
        }
        if (!path.equals("/events/in") && !path.equals("/events/out")) {
            return 404;
        }
        if (path.equals("/events/out") && !asksForPrefectProtocol(request) && !eventsInHandshake()) {
            // 3.4.25 serves /events/out only to clients that ask for the prefect subprotocol
            return 403;
        }
        return eventsSocketEnabled ? 101 : 403;
    }

    @Override
    public String subprotocol(HttpTransport.Request request) {
        String path = request.target().replaceFirst("^/api", "");
        if (!asksForPrefectProtocol(request) || (path.equals("/events/in") && !eventsInHandshake())) {
            return null;
        }
        return "prefect";
    }

    private static boolean asksForPrefectProtocol(HttpTransport.Request request) {
        String protocols = request.header("sec-websocket-protocol");
        return protocols != null && java.util.Arrays.stream(protocols.split(",")).map(String::strip)
                .anyMatch("prefect"::equals);
    }

    @Override
    public void session(HttpTransport.Request request, WebSocketSession session) throws IOException {
        String path = request.target().replaceFirst("^/api", "");
        boolean handshake = subprotocol(request) != null;
        eventSockets.add(session.socket());
        Subscriber subscriber = null;
        try {
            if (eventSocketsCloseAtOnce && !handshake) {
                session.close(1000, "");
                return;
            }
            String first = session.receive();
            if (first == null) {
                return;
            }
            JsonNode firstFrame = JSON.readTree(first);
            boolean isAuth = "auth".equals(firstFrame.path("type").asText());
            String pending = null;
            if (handshake) {
                if (!isAuth) {
                    violations.add(path + ": first frame was not an auth message: " + first);
                    session.close(1008, "Expected 'auth' message");
                    return;
                }
                session.send("{\"type\":\"auth_success\"}");
                if (eventSocketsCloseAtOnce) {
                    session.close(1000, "");
                    return;
                }
            } else if (path.equals("/events/in")) {
                if (isAuth) {
                    // what a real 3.4.25 does: the auth message fails validation as an event, the socket drops
                    violations.add(path + ": Prefect " + serverVersion + " takes every frame as an event, "
                            + "but the first one was an auth message");
                    session.socket().close();
                    return;
                }
                pending = first;
            } else {
                if (!"filter".equals(firstFrame.path("type").asText())) {
                    violations.add(path + ": without the prefect subprotocol the first frame must be the filter: " + first);
                    session.close(1002, "Expected 'filter' message");
                    return;
                }
                pending = first;
            }
            String text;
            while ((text = pending != null ? pending : session.receive()) != null) {
                pending = null;
                JsonNode frame = JSON.readTree(text);
                if (path.equals("/events/in")) {
                    violations.addAll(contract.checkEvent(frame));
                    events.add(frame);
                } else if ("filter".equals(frame.path("type").asText())) {
                    violations.addAll(contract.checkEventFilter(frame.path("filter")));
                    subscriber = new Subscriber(session, frame.path("filter"));
                    subscribers.add(subscriber);
                }
            }
        } finally {
            if (subscriber != null) {
                subscribers.remove(subscriber);
            }
            eventSockets.remove(session.socket());
        }
    }

    private void publish(ObjectNode event) {
        for (Subscriber s : subscribers) {
            if (matches(s.filter(), event)) {
                try {
                    s.session().send(F.objectNode().put("type", "event").set("event", event).toString());
                } catch (IOException e) {
                    subscribers.remove(s);
                }
            }
        }
    }

    private static boolean matches(JsonNode filter, JsonNode event) {
        Set<String> names = values(filter.path("event").path("name"));
        if (!names.isEmpty() && !names.contains(event.path("event").asText())) {
            return false;
        }
        Set<String> ids = values(filter.path("any_resource").path("id"));
        if (ids.isEmpty()) {
            return true;
        }
        if (ids.contains(event.path("resource").path("prefect.resource.id").asText())) {
            return true;
        }
        for (JsonNode r : event.path("related")) {
            if (ids.contains(r.path("prefect.resource.id").asText())) {
                return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- helpers

    private static Set<String> values(JsonNode array) {
        Set<String> out = new HashSet<>();
        if (array != null && array.isArray()) {
            array.forEach(n -> out.add(n.asText()));
        }
        return out;
    }

    private String queueId(ObjectNode pool, String name) {
        for (ObjectNode q : queues.values()) {
            if (q.path("work_pool_id").asText().equals(pool.get("id").asText()) && q.path("name").asText().equals(name)) {
                return q.get("id").asText();
            }
        }
        return null;
    }

    private synchronized ObjectNode copy(Map<String, ObjectNode> map, String key) {
        ObjectNode v = map.get(key);
        return v == null ? null : v.deepCopy();
    }

    private static void stamp(ObjectNode node) {
        String now = TS.format(Instant.now());
        node.put("created", now);
        node.put("updated", now);
    }

    private static String uuid() {
        return UUID.randomUUID().toString();
    }

    private static String decode(String s) {
        return java.net.URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static String adjectiveAnimal(int n) {
        String[] adjectives = {"warm", "green", "tidy", "brave", "calm", "eager", "fuzzy", "jolly"};
        String[] animals = {"scorpion", "avocet", "otter", "mayfly", "heron", "lynx", "badger", "gecko"};
        return adjectives[n % adjectives.length] + "-" + animals[(n / adjectives.length) % animals.length] + "-" + n;
    }

    private static HttpTransport.Response json(int status, String body) {
        return new HttpTransport.Response(status, Map.of("Content-Type", "application/json"),
                body.getBytes(StandardCharsets.UTF_8));
    }

    private static HttpTransport.Response found(JsonNode node) {
        return node == null ? notFound() : json(200, node.toString());
    }

    private static HttpTransport.Response notFound() {
        return json(404, "{\"detail\":\"Not Found\"}");
    }

    private static HttpTransport.Response runNotFound() {
        return json(404, "{\"detail\":\"Flow run not found\"}");
    }

    private static HttpTransport.Response poolNotFound(String name) {
        return json(404, "{\"detail\":\"Work pool \\\"" + name + "\\\" not found.\"}");
    }

    private static HttpTransport.Response noContent() {
        return new HttpTransport.Response(204, Map.of(), new byte[0]);
    }
}
