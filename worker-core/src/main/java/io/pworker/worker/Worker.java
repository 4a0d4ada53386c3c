package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.ApiException;
import io.pworker.api.CancellationFeed;
import io.pworker.api.EventEmitter;
import io.pworker.api.LogShipper;
import io.pworker.api.OrchestrationResult;
import io.pworker.api.PrefectClient;
import io.pworker.api.PrefectHttp;
import io.pworker.health.HealthServer;
import io.pworker.settings.Settings;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.template.JobTemplateRenderer;
import io.pworker.template.JobVariables;
import io.pworker.template.JobVariablesValidator;
import io.pworker.template.TemplateException;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Prefect worker serving one work pool with one infrastructure plugin.
 *
 * <p>Threads, each with one owner: the sync loop (pool read/creation and heartbeat), the poll loop (finds
 * scheduled runs and hands each to its own virtual thread), one virtual thread per flow run (claim, render,
 * launch, watch, report), the cancellation feed, the event emitter and the log shipper. State shared between
 * them is the pool snapshot (an atomic reference to an immutable copy), the map of active runs, and a few
 * volatile timestamps and flags.
 */
public final class Worker implements AutoCloseable {

    /** The Prefect release whose worker contract pworker follows; reported where Prefect reports its version. */
    public static final String PREFECT_VERSION = "3.4.25";
    private static final Logger log = LoggerFactory.getLogger(Worker.class);
    private static final Set<String> FINAL_STATES = Set.of("COMPLETED", "FAILED", "CANCELLED", "CRASHED");
    private static final String HOST = hostName();

    private final Settings settings;
    private final WorkerOptions options;
    private final InfrastructurePlugin plugin;
    private final Map<String, String> environment;
    private final PrintStream console;
    private final Clock clock;
    private final String name;
    private final String type;
    private final Duration prefetch;
    private final PrefectClient client;
    private final EventEmitter events;
    private final LogShipper logs;
    private final JobTemplateRenderer renderer;
    private final JobVariablesValidator validator = new JobVariablesValidator();
    private final Slots slots;
    private final AtomicReference<JsonNode> pool = new AtomicReference<>();
    private final Map<String, ActiveRun> active = new ConcurrentHashMap<>();
    private final Set<Thread> runThreads = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicBoolean warnedTypeMismatch = new AtomicBoolean();
    private final AtomicBoolean warnedPoolMissing = new AtomicBoolean();
    private final AtomicBoolean warnedNotKillable = new AtomicBoolean();

    private volatile InfrastructureLauncher launcher;
    private volatile Instant lastPolled;
    private volatile boolean stopping;
    private volatile CancellationFeed cancellations;
    /** The requested queues that exist; a single unknown name would make the server answer 404 to every poll. */
    private volatile List<String> pollQueues;
    private final Set<String> warnedQueues = ConcurrentHashMap.newKeySet();
    private Thread pollThread;
    private Thread syncThread;
    private HealthServer health;
    private String startedEventId;

    private Worker(Settings settings, WorkerOptions options, InfrastructurePlugin plugin, Map<String, String> environment,
            PrintStream console, Clock clock, PrefectClient client) {
        this.settings = settings;
        this.options = options;
        this.plugin = plugin;
        this.environment = Map.copyOf(environment);
        this.console = console;
        this.clock = clock;
        this.type = plugin.type();
        this.name = options.name() != null ? options.name() : plugin.workerClassName() + " " + UUID.randomUUID();
        this.prefetch = Duration.ofSeconds(options.prefetchSeconds() != null ? options.prefetchSeconds()
                : settings.prefetchSeconds());
        this.client = client;
        this.events = new EventEmitter(client.http(), clock);
        this.logs = settings.loggingToApiEnabled() ? new LogShipper(client, clock, settings.logBatchInterval()) : null;
        this.renderer = new JobTemplateRenderer(this.environment);
        this.slots = new Slots(options.limit());
        this.lastPolled = clock.instant();
        this.pollQueues = options.workQueues();
    }

    /**
     * Resolves the worker type (from {@code --type} or the pool), checks the name and builds a worker. Nothing
     * runs until {@link #start()}.
     */
    public static Worker create(Settings settings, WorkerOptions options, PluginRegistry registry,
            Map<String, String> environment, PrintStream console, Clock clock) throws WorkerException, InterruptedException {
        if (options.pool() == null || options.pool().isBlank()) {
            throw new WorkerException("Missing required option '--pool'");
        }
        if (options.name() != null && (options.name().contains("/") || options.name().contains("%"))) {
            throw new WorkerException("Worker name '" + options.name() + "' must not contain '/' or '%'");
        }
        if (options.limit() != null && options.limit() < 1) {
            throw new WorkerException("--limit must be at least 1, got " + options.limit());
        }
        String provisional = options.name() != null ? options.name() : "pworker-" + UUID.randomUUID();
        PrefectClient client = new PrefectClient(new PrefectHttp(settings, provisional, Version.get()));
        try {
            InfrastructurePlugin plugin = resolvePlugin(options, registry, client);
            PrefectClient named = client;
            if (options.name() == null) {
                client.close();
                String name = plugin.workerClassName() + " " + UUID.randomUUID();
                options = options.withName(name);
                named = new PrefectClient(new PrefectHttp(settings, name, Version.get()));
            }
            Worker worker = new Worker(settings, options, plugin, environment, console, clock, named);
            worker.preflightWarnings();
            return worker;
        } catch (WorkerException | RuntimeException | InterruptedException e) {
            client.close();
            throw e;
        }
    }

    private static InfrastructurePlugin resolvePlugin(WorkerOptions options, PluginRegistry registry, PrefectClient client)
            throws WorkerException, InterruptedException {
        if (options.type() != null) {
            return registry.require(options.type(), "--type " + options.type() + ": ");
        }
        Optional<JsonNode> found;
        try {
            found = client.readWorkPool(options.pool());
        } catch (ApiException e) {
            if (e.isTransient()) {
                throw new WorkerException("Cannot discover the type of work pool '" + options.pool()
                        + "' because the Prefect API did not answer (" + e.getMessage()
                        + "). Start the worker with --type, or check PREFECT_API_URL.", e);
            }
            throw new WorkerException("The Prefect API refused to read work pool '" + options.pool() + "': "
                    + e.getMessage() + hintFor(e), e);
        }
        if (found.isEmpty()) {
            log.info("Work pool '{}' does not exist and no worker type was provided. Starting a process worker...",
                    options.pool());
            return registry.require("process", "");
        }
        String poolType = found.get().path("type").asText();
        if (poolType.endsWith(":push") || poolType.endsWith(":managed")) {
            throw new WorkerException("Work pool '" + options.pool() + "' is a " + poolType
                    + " pool; workers are not required for push or managed work pools.");
        }
        InfrastructurePlugin plugin = registry.require(poolType, "work pool '" + options.pool() + "' has ");
        log.info("Discovered type '{}' for work pool '{}'.", poolType, options.pool());
        return plugin;
    }

    /** The kernel's host name; no DNS look-up, which can stall start-up on machines without a resolver. */
    private static String hostName() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (java.io.IOException | RuntimeException e) {
            return System.getenv().getOrDefault("HOSTNAME", "unknown");
        }
    }

    private static String hintFor(ApiException e) {
        return switch (e.status()) {
            case 401 -> " (check PREFECT_API_KEY or PREFECT_API_AUTH_STRING)";
            case 403 -> " (the credentials lack permission, or the pool name is reserved)";
            default -> "";
        };
    }

    private void preflightWarnings() throws InterruptedException {
        try {
            Optional<JsonNode> p = client.readWorkPool(options.pool());
            if (p.isPresent() && p.get().path("is_paused").asBoolean(false)) {
                log.warn("Work pool '{}' is paused. This worker will not pick up runs until the pool is resumed.",
                        options.pool());
            }
            if (p.isPresent()) {
                List<JsonNode> queues = client.readWorkQueues(options.pool(), options.workQueues());
                if (!queues.isEmpty() && queues.stream().allMatch(q -> q.path("is_paused").asBoolean(false))) {
                    log.warn("All work queues this worker serves in pool '{}' are paused.", options.pool());
                }
            }
        } catch (ApiException e) {
            // pre-flight checks only warn; the real start-up reports errors
        }
    }

    public String name() {
        return name;
    }

    public String type() {
        return type;
    }

    /** Port the health server listens on (useful with port 0), or -1 without {@code --with-healthcheck}. */
    public int healthPort() {
        return health == null ? -1 : health.port();
    }

    public Instant lastPolled() {
        return lastPolled;
    }

    /** Runs the worker: first sync, loops, events, health server. Returns once it is serving. */
    public void start() throws WorkerException, InterruptedException {
        try {
            java.nio.file.Path pluginState = java.nio.file.Files.createDirectories(java.nio.file.Path.of(
                    environment.getOrDefault("PWORKER_STATE_DIR", System.getProperty("java.io.tmpdir") + "/pworker-state"),
                    "plugins", type));
            launcher = plugin.create(new PluginContext(name, environment, console, clock, pluginState));
        } catch (java.io.IOException e) {
            throw new WorkerException("Cannot create the state directory: " + e.getMessage(), e);
        } catch (InfrastructureException e) {
            throw new WorkerException("Cannot start the '" + type + "' infrastructure: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new WorkerException("The '" + type + "' plugin failed to start: " + e, e);
        }
        try {
            sync();
        } catch (ApiException e) {
            if (!e.isTransient()) {
                throw new WorkerException("The Prefect API refused the worker: " + e.getMessage() + hintFor(e), e);
            }
            log.warn("Unable to reach the Prefect API while starting up ({}); the worker will keep attempting to connect",
                    e.getMessage());
        }
        if (options.withHealthcheck()) {
            try {
                health = HealthServer.start(settings.webserverHost(), settings.webserverPort(), this::lastPolled,
                        settings.querySeconds().multipliedBy(30), clock);
            } catch (java.io.IOException e) {
                throw new WorkerException("Cannot serve /health on " + settings.webserverHost() + ":"
                        + settings.webserverPort() + ": " + e.getMessage(), e);
            }
        }
        startedEventId = events.emit("prefect.worker.started", workerResource(), poolRelated(), null);
        if (!options.runOnce()) {
            syncThread = Thread.ofVirtual().name("pworker-sync").start(() -> loop("sync", settings.heartbeatSeconds(),
                    this::sync, true));
            pollThread = Thread.ofVirtual().name("pworker-poll").start(() -> loop("poll", settings.querySeconds(),
                    this::poll, false));
        }
        console.println("Worker '" + name + "' started!");
    }

    /** {@code --run-once}: one sync (done by start), one poll, wait for the runs it started, stop. */
    public void runOnce() throws InterruptedException {
        try {
            poll();
        } catch (ApiException e) {
            log.error("Polling work pool '{}' failed: {}", options.pool(), e.getMessage());
        }
        for (Thread t : List.copyOf(runThreads)) {
            t.join();
        }
        stop();
    }

    private interface Body {
        void run() throws ApiException, InterruptedException;
    }

    private void loop(String what, Duration interval, Body body, boolean sleepFirst) {
        int failures = 0;
        try {
            if (sleepFirst) {
                Thread.sleep(Jitter.around(interval));
            }
            while (!stopping) {
                try {
                    body.run();
                    if (failures >= 3) {
                        log.info("The {} loop is working again after {} failed attempts", what, failures);
                    }
                    failures = 0;
                } catch (ApiException e) {
                    failures++;
                    // Prefect's worker exits on a 4xx here; a daemon that outlives a misconfiguration is
                    // easier to fix (the message is in the log) and recovers by itself when it is fixed.
                    if (failures == 1 || failures % 10 == 0) {
                        log.warn("{} failed ({} in a row): {}{}", what, failures, e.getMessage(), hintFor(e));
                    }
                    if (failures == 3) {
                        log.warn("Failed the last 3 attempts to {}. Please check your environment and configuration.",
                                what);
                    }
                } catch (RuntimeException e) {
                    failures++;
                    log.error("Unexpected error in the {} loop; it goes on", what, e);
                }
                Thread.sleep(Jitter.around(interval));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Reads (or creates) the pool, installs the default template into an empty one, heartbeats. */
    void sync() throws ApiException, InterruptedException {
        String poolName = options.pool();
        Optional<JsonNode> found = client.readWorkPool(poolName);
        JsonNode p;
        if (found.isPresent()) {
            p = found.get();
        } else if (options.createPoolIfNotFound()) {
            Optional<JsonNode> created = client.createWorkPool(poolName, type, options.baseJobTemplate());
            if (created.isPresent()) {
                log.info("Work pool '{}' created.", poolName);
                p = created.get();
            } else {
                p = client.readWorkPool(poolName).orElse(null);
            }
        } else {
            p = null;
        }
        if (p == null) {
            if (warnedPoolMissing.compareAndSet(false, true)) {
                log.warn("Work pool '{}' not found! The worker idles until it exists.", poolName);
            }
            return;
        }
        warnedPoolMissing.set(false);
        JsonNode template = p.get("base_job_template");
        if (template == null || template.isNull() || (template.isObject() && template.isEmpty())) {
            ObjectNode defaults = plugin.defaultBaseJobTemplate();
            client.updateWorkPoolTemplate(poolName, defaults);
            ObjectNode copy = p.deepCopy();
            copy.set("base_job_template", defaults);
            p = copy;
        }
        String poolType = p.path("type").asText();
        if (!type.equals(poolType) && warnedTypeMismatch.compareAndSet(false, true)) {
            log.warn("Worker type mismatch! This worker expects type '{}' but work pool '{}' has type '{}'. "
                    + "Runs will be launched as '{}'.", type, poolName, poolType, type);
        }
        if (!options.workQueues().isEmpty()) {
            refreshQueues(poolName);
        }
        boolean firstPool = pool.getAndSet(p) == null;
        Optional<String> id = client.heartbeat(poolName, name, settings.heartbeatSeconds().toSeconds(),
                settings.isCloud() && client.http().workerId().isEmpty());
        id.ifPresent(client.http()::workerId);
        if (firstPool && !options.runOnce()) {
            startCancellationFeed(p.path("id").asText());
        }
    }

    private void refreshQueues(String poolName) throws ApiException, InterruptedException {
        Set<String> existing = new TreeSet<>();
        client.readWorkQueues(poolName, options.workQueues()).forEach(q -> existing.add(q.path("name").asText()));
        List<String> usable = new ArrayList<>();
        for (String q : options.workQueues()) {
            if (existing.contains(q)) {
                usable.add(q);
                warnedQueues.remove(q);
            } else if (warnedQueues.add(q)) {
                log.warn("Work queue '{}' does not exist in work pool '{}'; polling the other queues until it is created",
                        q, poolName);
            }
        }
        pollQueues = List.copyOf(usable);
    }

    private synchronized void startCancellationFeed(String poolId) {
        if (cancellations != null || stopping) {
            return;
        }
        Duration interval = settings.explicit().containsKey("PREFECT_WORKER_CANCELLATION_POLL_SECONDS")
                ? settings.cancellationPollSeconds() : settings.querySeconds();
        cancellations = new CancellationFeed(client, poolId, active::keySet, this::onCancelling, interval, clock);
    }

    /** One poll: find due runs and start a supervisor thread for each one that gets a slot. */
    void poll() throws ApiException, InterruptedException {
        JsonNode snapshot = pool.get();
        if (snapshot == null) {
            lastPolled = clock.instant();
            return;
        }
        List<String> queues = pollQueues;
        if (!options.workQueues().isEmpty() && queues.isEmpty()) {
            // none of the requested queues exists; an empty list would mean "all queues" to the server
            lastPolled = clock.instant();
            return;
        }
        List<JsonNode> due = client.scheduledFlowRuns(options.pool(), queues, clock.instant().plus(prefetch));
        lastPolled = clock.instant();
        for (JsonNode item : due) {
            if (stopping) {
                return;
            }
            JsonNode run = item.path("flow_run");
            String id = run.path("id").asText();
            if (id.isEmpty() || active.containsKey(id)) {
                continue;
            }
            if (!slots.tryAcquire(id)) {
                log.debug("Flow run limit reached; {} flow runs in progress.", slots.inUse());
                return;
            }
            ActiveRun ar = new ActiveRun(id);
            active.put(id, ar);
            JsonNode poolCopy = snapshot.deepCopy();
            Thread t = Thread.ofVirtual().name("pworker-run-" + id).unstarted(() -> supervise(ar, run, poolCopy));
            runThreads.add(t);
            t.start();
        }
    }

    /** Per-run state shared between the run's thread, the cancellation feed and shutdown. */
    private static final class ActiveRun {
        final String id;
        final AtomicBoolean killStarted = new AtomicBoolean();
        volatile RunHandle handle;
        volatile ObjectNode configuration;
        volatile boolean cancelRequested;
        volatile boolean shutdownKill;

        ActiveRun(String id) {
            this.id = id;
        }
    }

    private record Prepared(FlowRunInfo info, ObjectNode configuration, JsonNode flow) {
    }

    private void supervise(ActiveRun ar, JsonNode run, JsonNode poolSnapshot) {
        String id = ar.id;
        RunLogger rlog = new RunLogger(id, logs);
        boolean claimed = false;
        RunHandle handle = null;
        try {
            JsonNode deployment = null;
            String deploymentId = run.path("deployment_id").asText(null);
            if (deploymentId != null) {
                deployment = client.readDeployment(deploymentId).orElse(null);
                if (deployment == null) {
                    log.warn("Deployment {} no longer exists. Flow run {} will not be submitted for execution",
                            deploymentId, id);
                    client.setState(id, "CANCELLED", "Cancelled",
                            "Deployment " + deploymentId + " no longer exists, cancelled run.", true);
                    return;
                }
            }
            rlog.info("Worker '" + name + "' submitting flow run '" + id + "'");
            if (!claim(id, rlog)) {
                return;
            }
            claimed = true;
            Prepared prepared;
            try {
                prepared = prepare(run, deployment, poolSnapshot);
            } catch (TemplateException | SubmissionException e) {
                rlog.error("Failed to submit flow run '" + run.path("name").asText(id) + "' to infrastructure: "
                        + e.getMessage(), null);
                crash(id, "Failed to submit flow run to infrastructure: " + e.getMessage(), rlog);
                return;
            }
            List<Map<String, String>> related = related(prepared.info(), deployment, prepared.flow(), run);
            String submittedId = events.emit("prefect.worker.submitted-flow-run", workerResource(), related, null);
            Map<String, String> labels = new LinkedHashMap<>();
            labels.put("prefect.worker.name", name);
            labels.put("prefect.worker.type", type);
            labels.put("prefect.work-pool.name", options.pool());
            labels.put("prefect.work-pool.id", poolSnapshot.path("id").asText());
            // Prefect's process pid carries no host; the label keeps that scope for people and tools
            labels.put("pworker.host", HOST);
            client.updateLabels(id, labels);
            try {
                client.setState(id, "PENDING", "Submitting", null, false);
            } catch (ApiException e) {
                rlog.debug("Could not mark the run Submitting: " + e.getMessage());
            }
            if (ar.cancelRequested) {
                forceCancelled(id, "Flow run was cancelled before its infrastructure was created.", rlog);
                return;
            }
            try {
                handle = launcher.launch(new LaunchRequest(prepared.info(), prepared.configuration(), rlog));
            } catch (LaunchException e) {
                rlog.error("Failed to submit flow run '" + prepared.info().name() + "' to infrastructure: "
                        + e.getMessage(), null);
                crash(id, "Failed to submit flow run to infrastructure: " + e.getMessage(), rlog);
                return;
            } catch (RuntimeException e) {
                rlog.error("The '" + type + "' plugin failed while launching flow run '" + prepared.info().name() + "'", e);
                crash(id, "Failed to submit flow run to infrastructure: the '" + type + "' plugin failed: " + e, rlog);
                return;
            }
            ar.handle = handle;
            try {
                client.setInfrastructurePid(id, handle.infrastructurePid());
            } catch (ApiException e) {
                rlog.warn("An error occurred while setting the infrastructure_pid on flow run '" + id
                        + "'; the flow run will not be cancellable: " + e.getMessage());
            }
            rlog.info("Flow run '" + prepared.info().name() + "' submitted to infrastructure");
            if (ar.cancelRequested || (stopping && !plugin.capabilities().outlivesWorker())) {
                ar.shutdownKill = !ar.cancelRequested;
                startKill(ar);
            }
            ar.configuration = prepared.configuration();
            ExitStatus status = watch(ar, rlog);
            report(ar, status, rlog);
            if (status != null) {
                List<Map<String, String>> executed = new ArrayList<>();
                for (Map<String, String> r : related) {
                    if ("flow-run".equals(r.get("prefect.resource.role"))) {
                        Map<String, String> extended = new LinkedHashMap<>(r);
                        extended.put("prefect.infrastructure.identifier", handle.infrastructurePid());
                        extended.put("prefect.infrastructure.status-code", String.valueOf(status == null ? 0 : status.code()));
                        executed.add(extended);
                    } else {
                        executed.add(r);
                    }
                }
                events.emit("prefect.worker.executed-flow-run", workerResource(), executed, submittedId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ApiException | RuntimeException e) {
            if (claimed && handle == null) {
                rlog.error("Failed to submit flow run '" + id + "' to infrastructure", e);
                try {
                    crash(id, "Failed to submit flow run to infrastructure: " + e.getMessage(), rlog);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            } else if (handle != null) {
                rlog.error("Lost connection to flow run '" + id + "' infrastructure: " + e.getMessage(), null);
            } else {
                log.warn("Could not submit flow run {}: {}", id, e.getMessage());
            }
        } finally {
            if (handle != null) {
                try {
                    launcher.release(handle, ar.configuration);
                } catch (RuntimeException e) {
                    log.warn("The '{}' plugin failed to release flow run {}: {}", type, id, e.toString());
                }
            }
            active.remove(id);
            slots.release(id);
            runThreads.remove(Thread.currentThread());
        }
    }

    /** Proposes PENDING; true only when the run is ours to launch. */
    private boolean claim(String id, RunLogger rlog) throws InterruptedException {
        while (!stopping) {
            Optional<OrchestrationResult> answer;
            try {
                answer = client.setState(id, "PENDING", "Pending", null, false);
            } catch (ApiException e) {
                rlog.error("Failed to update state of flow run '" + id + "': " + e.getMessage(), null);
                return false;
            }
            if (answer.isEmpty()) {
                log.info("Flow run {} no longer exists; not submitting it", id);
                return false;
            }
            OrchestrationResult r = answer.get();
            switch (r.status()) {
                case "ACCEPT":
                    return true;
                case "REJECT":
                    if ("PENDING".equals(r.stateType())) {
                        return true;
                    }
                    rlog.info("Aborted submission of flow run '" + id + "': Server returned a non-pending state '"
                            + r.stateType() + "'");
                    return false;
                case "WAIT":
                    Thread.sleep(Duration.ofMillis(Math.round(Math.min(60, Math.max(0.1, r.delaySeconds())) * 1000)));
                    continue;
                default:
                    rlog.info("Aborted submission of flow run '" + id + "'. Server sent an abort signal: " + r.reason());
                    return false;
            }
        }
        return false;
    }

    private Prepared prepare(JsonNode run, JsonNode deployment, JsonNode poolSnapshot)
            throws TemplateException, SubmissionException, ApiException, InterruptedException {
        JsonNode template = poolSnapshot.path("base_job_template");
        try {
            validator.checkTemplate(template);
        } catch (TemplateException e) {
            throw new SubmissionException("work pool '" + options.pool() + "' has a malformed base job template: "
                    + e.getMessage());
        }
        ObjectNode variables = JobVariables.merge(deployment == null ? null : deployment.get("job_variables"),
                run.get("job_variables"));
        List<String> violations = validator.validate(template, variables);
        if (!violations.isEmpty()) {
            throw new SubmissionException("job variables do not match the schema of work pool '" + options.pool()
                    + "': " + String.join("; ", violations));
        }
        ObjectNode configuration = renderer.render(template, variables, new ApiPlaceholderResolver(client));
        JsonNode flow = null;
        String flowId = run.path("flow_id").asText(null);
        if (flowId != null) {
            flow = client.readFlow(flowId).orElse(null);
        }
        Set<String> tags = new TreeSet<>();
        for (JsonNode source : new JsonNode[] {deployment, flow, run}) {
            if (source != null) {
                source.path("tags").forEach(t -> tags.add(t.asText()));
            }
        }
        FlowRunInfo info = new FlowRunInfo(
                run.path("id").asText(),
                run.path("name").asText(null),
                flowId,
                flow == null ? null : flow.path("name").asText(null),
                deployment == null ? null : deployment.path("id").asText(null),
                deployment == null ? null : deployment.path("name").asText(null),
                options.pool(),
                poolSnapshot.path("id").asText(null),
                name,
                List.copyOf(tags));
        JobPreparation.prepare(configuration, info, inheritedEnvironment(), deployment, flow, run, PREFECT_VERSION);
        return new Prepared(info, configuration, flow);
    }

    /** Prefect settings set for this worker, forwarded to flow runs (worker-spec §2.6 step 1). */
    private Map<String, String> inheritedEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        settings.explicit().forEach((k, v) -> {
            if (k.startsWith("PREFECT_") && !k.startsWith("PREFECT_WORKER_")) {
                env.put(k, v);
            }
        });
        env.put("PREFECT_API_URL", settings.apiUrl().toString());
        client.http().workerId().ifPresent(id -> env.put("PREFECT__WORKER_ID", id));
        return env;
    }

    /** Waits for the infrastructure to end; null when the worker stops watching (shutdown of a remote type). */
    private ExitStatus watch(ActiveRun ar, RunLogger rlog) throws InterruptedException {
        java.util.concurrent.BlockingQueue<io.pworker.spi.Phase> phases = new java.util.concurrent.LinkedBlockingQueue<>();
        io.pworker.spi.Watch w;
        try {
            w = launcher.watch(ar.handle, ar.configuration, phases::add);
        } catch (InfrastructureException | RuntimeException e) {
            return new ExitStatus(-1, "The worker lost track of the flow run's infrastructure: " + e.getMessage());
        }
        try {
            while (true) {
                if (stopping && plugin.capabilities().outlivesWorker()) {
                    return null;
                }
                io.pworker.spi.Phase p = phases.poll(1, TimeUnit.SECONDS);
                if (p instanceof io.pworker.spi.Phase.Exited exited) {
                    return exited.status();
                }
                if (p instanceof io.pworker.spi.Phase.Gone gone) {
                    return new ExitStatus(-1, gone.reason());
                }
                if (p instanceof io.pworker.spi.Phase.Pending pending && pending.detail() != null) {
                    rlog.info(pending.detail());
                }
            }
        } finally {
            w.close();
        }
    }

    private void report(ActiveRun ar, ExitStatus status, RunLogger rlog) throws InterruptedException, ApiException {
        if (status == null) {
            return;
        }
        if (ar.cancelRequested) {
            forceCancelled(ar.id, "Flow run was cancelled: pworker stopped its infrastructure.", rlog);
            return;
        }
        if (status.successful()) {
            return;
        }
        String message;
        if (ar.shutdownKill) {
            message = "Worker '" + name + "' was stopped while this flow run was running, and stopped its process "
                    + "(exit code " + status.code() + ").";
        } else if (status.code() < 0 && status.reason() != null) {
            // no exit code to speak of: the infrastructure vanished or the worker lost sight of it
            message = status.reason();
        } else {
            message = "Flow run infrastructure exited with non-zero status code " + status.code() + ". "
                    + (status.reason() != null ? status.reason() : ExitCodes.explain(status.code()));
        }
        crash(ar.id, message, rlog);
    }

    private void crash(String id, String message, RunLogger rlog) throws InterruptedException {
        try {
            Optional<OrchestrationResult> r = client.setState(id, "CRASHED", "Crashed", message, false);
            if (r.isPresent() && "CRASHED".equals(r.get().stateType())) {
                rlog.info("Reported flow run '" + id + "' as crashed: " + message);
            }
        } catch (ApiException e) {
            log.error("Could not report flow run {} as crashed ({}): {}", id, message, e.getMessage());
        }
    }

    private void forceCancelled(String id, String message, RunLogger rlog) throws InterruptedException, ApiException {
        Optional<JsonNode> current = client.readFlowRun(id);
        if (current.isEmpty()) {
            return;
        }
        String state = current.get().path("state_type").asText("");
        if (FINAL_STATES.contains(state)) {
            return;
        }
        client.setState(id, "CANCELLED", "Cancelled", message, true);
        rlog.info(message);
    }

    private void onCancelling(String flowRunId) {
        ActiveRun ar = active.get(flowRunId);
        if (ar == null || ar.cancelRequested) {
            return;
        }
        if (!plugin.capabilities().killable()) {
            if (warnedNotKillable.compareAndSet(false, true)) {
                log.warn("Worker type '{}' cannot stop infrastructure; cancelled runs are left to their engine", type);
            }
            return;
        }
        log.info("Flow run {} is cancelling; stopping its infrastructure", flowRunId);
        ar.cancelRequested = true;
        if (ar.handle != null) {
            startKill(ar);
        }
    }

    private void startKill(ActiveRun ar) {
        if (!ar.killStarted.compareAndSet(false, true)) {
            return;
        }
        Thread.ofVirtual().name("pworker-kill-" + ar.id).start(() -> {
            try {
                KillOutcome outcome = launcher.kill(ar.handle, ar.configuration, settings.killGracePeriod());
                if (outcome == KillOutcome.NOT_AVAILABLE) {
                    log.warn("Cannot stop the infrastructure of flow run {} ({}): it is not reachable from this worker",
                            ar.id, ar.handle.infrastructurePid());
                } else {
                    log.info("Stopped the infrastructure of flow run {} ({})", ar.id, outcome);
                }
            } catch (InfrastructureException | RuntimeException e) {
                log.error("Failed to stop the infrastructure of flow run {}: {}", ar.id, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private Map<String, String> workerResource() {
        Map<String, String> r = new LinkedHashMap<>();
        r.put("prefect.resource.id", "prefect.worker." + type + "." + Slug.of(name));
        r.put("prefect.resource.name", name);
        r.put("prefect.version", PREFECT_VERSION);
        r.put("prefect.worker-type", type);
        return r;
    }

    private List<Map<String, String>> poolRelated() {
        JsonNode p = pool.get();
        if (p == null) {
            return List.of();
        }
        return List.of(Map.of("prefect.resource.id", "prefect.work-pool." + p.path("id").asText(),
                "prefect.resource.role", "work-pool", "prefect.resource.name", options.pool()));
    }

    private List<Map<String, String>> related(FlowRunInfo info, JsonNode deployment, JsonNode flow, JsonNode run) {
        List<Map<String, String>> out = new ArrayList<>();
        if (deployment != null) {
            Map<String, String> d = new LinkedHashMap<>();
            d.put("prefect.resource.id", "prefect.deployment." + info.deploymentId());
            d.put("prefect.resource.role", "deployment");
            d.put("prefect.resource.name", info.deploymentName());
            out.add(d);
        }
        if (flow != null) {
            out.add(ordered("prefect.resource.id", "prefect.flow." + info.flowId(), "prefect.resource.role", "flow",
                    "prefect.resource.name", info.flowName()));
        }
        out.add(ordered("prefect.resource.id", "prefect.flow-run." + info.id(), "prefect.resource.role", "flow-run",
                "prefect.resource.name", info.name()));
        for (String tag : info.tags()) {
            out.add(ordered("prefect.resource.id", "prefect.tag." + tag, "prefect.resource.role", "tag"));
        }
        out.addAll(poolRelated());
        return out;
    }

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] != null) {
                m.put(kv[i], kv[i + 1]);
            }
        }
        return m;
    }

    /** Blocks until {@link #stop()} has finished. */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Graceful stop: no more claims; submissions in flight finish; local processes are stopped (SIGTERM, then
     * SIGKILL after the grace period) and reported Crashed, as Prefect's process worker does; containers and
     * other remote infrastructure keep running and report their own state. Then the stopped event is sent and
     * everything is closed. Idempotent; returns when done.
     */
    public void stop() {
        if (!stopRequested.compareAndSet(false, true)) {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        stopping = true;
        try {
            for (Thread t : new Thread[] {pollThread, syncThread}) {
                if (t != null) {
                    t.interrupt();
                    t.join(Duration.ofSeconds(5));
                }
            }
            if (!plugin.capabilities().outlivesWorker() && !active.isEmpty()) {
                log.info("Stopping {} flow run process(es) before exiting", active.size());
                for (ActiveRun ar : active.values()) {
                    if (ar.handle != null && !ar.cancelRequested) {
                        ar.shutdownKill = true;
                        startKill(ar);
                    }
                }
            } else if (!active.isEmpty()) {
                log.info("{} flow run(s) keep running on their infrastructure and report their own state", active.size());
            }
            Instant deadline = clock.instant().plus(settings.killGracePeriod()).plusSeconds(20);
            for (Thread t : List.copyOf(runThreads)) {
                Duration left = Duration.between(clock.instant(), deadline);
                if (left.isNegative() || !t.join(left)) {
                    log.warn("Gave up waiting for flow run thread {}", t.getName());
                }
            }
            if (cancellations != null) {
                cancellations.close();
            }
            events.emit("prefect.worker.stopped", workerResource(), poolRelated(), startedEventId);
            events.close(Duration.ofSeconds(5));
            if (logs != null) {
                logs.close();
            }
            if (health != null) {
                health.close();
            }
            if (launcher != null) {
                launcher.close();
            }
            client.close();
            console.println("Worker '" + name + "' stopped!");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            stopped.countDown();
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** A run cannot be submitted for a reason the user must fix (template, job variables). */
    static final class SubmissionException extends Exception {
        SubmissionException(String message) {
            super(message);
        }
    }
}
