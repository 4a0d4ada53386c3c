package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.pworker.api.ApiException;
import io.pworker.api.CancellationFeed;
import io.pworker.api.EventEmitter;
import io.pworker.api.LogShipper;
import io.pworker.api.PrefectClient;
import io.pworker.api.PrefectHttp;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import io.pworker.health.HealthServer;
import io.pworker.metrics.WorkerMetrics;
import io.pworker.settings.Settings;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;
import io.pworker.state.RunStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Prefect worker serving one work pool with one infrastructure plugin. This class only puts the parts together
 * and starts and stops them; each has one job and one thread that owns it:
 *
 * <ul>
 *   <li>{@link PoolSync} on the sync loop: pool snapshot and heartbeat; after each sync the {@link Reconciler}
 *       takes over runs left in the state directory and releases orphaned infrastructure;</li>
 *   <li>{@link Poller} on the poll loop: finds scheduled runs and hands each to {@link Runs}; the loop polls
 *       every poll interval, and at once (through {@link PollWake}) when the pool's scheduled-run events say
 *       there is work;</li>
 *   <li>one {@link RunSupervisor} per flow run on its own virtual thread: claim, launch, watch, cancel, report;</li>
 *   <li>{@link CancellationFeed} (cancellations and scheduled-run events), {@link EventEmitter} and
 *       {@link LogShipper}, each on its own thread.</li>
 * </ul>
 */
public final class Worker implements AutoCloseable {

    /** The Prefect release whose worker contract pworker follows; reported where Prefect reports its version. */
    public static final String PREFECT_VERSION = "3.4.25";
    private static final Logger log = LoggerFactory.getLogger(Worker.class);

    private final Settings settings;
    private final WorkerOptions options;
    private final InfrastructurePlugin plugin;
    private final Map<String, String> environment;
    private final PrintStream console;
    private final Clock clock;
    private final WorkerMetrics metrics;
    private final String name;
    private final String type;
    private final Instant createdAt;
    private final PrefectClient client;
    private final PrefectObjects prefect;
    private final EventEmitter emitter;
    private final LogShipper logs;
    private final RunEvents events;
    private final PoolSync poolSync;
    /** The pool as read to discover the worker type, or null: the first sync uses it rather than reading again. */
    private final WorkPool discovered;
    private final PollWake pollWake = new PollWake();
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean stopping;

    // built by start(), once the plugin's launcher exists
    private RunStore store;
    private InfrastructureLauncher launcher;
    private Runs runs;
    private Reconciler reconciler;
    private volatile Poller poller;
    private volatile CancellationFeed cancellations;
    private Thread pollThread;
    private Thread syncThread;
    private HealthServer health;
    private String startedEventId;
    private ServiceNotifications systemd;

    private Worker(Settings settings, WorkerOptions options, InfrastructurePlugin plugin, Map<String, String> environment,
            PrintStream console, Clock clock, PrefectClient client, WorkerMetrics metrics, WorkPool discovered) {
        this.settings = settings;
        this.metrics = metrics;
        this.options = options;
        this.plugin = plugin;
        this.environment = Map.copyOf(environment);
        this.console = console;
        this.clock = clock;
        this.type = plugin.type();
        this.name = options.name() != null ? options.name() : plugin.workerClassName() + " " + UUID.randomUUID();
        this.createdAt = clock.instant();
        this.client = client;
        this.prefect = new PrefectObjects(client);
        this.emitter = new EventEmitter(client.http(), clock);
        this.logs = settings.loggingToApiEnabled() ? new LogShipper(client, clock, settings.logBatchInterval()) : null;
        this.events = new RunEvents(emitter, type, name, options.pool());
        this.poolSync = new PoolSync(prefect, options, plugin, settings, name);
        this.discovered = discovered;
    }

    /**
     * Resolves the worker type (from {@code --type} or the pool), checks the name and builds a worker. Nothing
     * runs until {@link #start()}.
     */
    public static Worker create(Settings settings, WorkerOptions options, PluginRegistry registry,
            Map<String, String> environment, PrintStream console, Clock clock) throws WorkerException, InterruptedException {
        return create(settings, options, registry, environment, console, clock, WorkerMetrics.none());
    }

    /**
     * The same, counting into {@code metrics}, which {@code /metrics} serves when it is not
     * {@link WorkerMetrics#none()} and the health server runs.
     */
    public static Worker create(Settings settings, WorkerOptions options, PluginRegistry registry,
            Map<String, String> environment, PrintStream console, Clock clock, WorkerMetrics metrics)
            throws WorkerException, InterruptedException {
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
        PrefectClient client = new PrefectClient(new PrefectHttp(settings, provisional, Version.get(), PREFECT_VERSION,
                metrics));
        try {
            Discovery found = resolvePlugin(options, registry, client);
            // the server's version and the CSRF token are asked while the worker sets itself up
            client.http().prefetch();
            if (options.name() == null) {
                String name = found.plugin().workerClassName() + " " + UUID.randomUUID();
                options = options.withName(name);
                client.http().rename(name);
            }
            return new Worker(settings, options, found.plugin(), environment, console, clock, client, metrics,
                    found.pool());
        } catch (WorkerException | RuntimeException | InterruptedException e) {
            client.close();
            throw e;
        }
    }

    /** The plugin for the worker's type, and the pool when it was read to find that type (else null). */
    private record Discovery(InfrastructurePlugin plugin, WorkPool pool) {
    }

    private static Discovery resolvePlugin(WorkerOptions options, PluginRegistry registry, PrefectClient client)
            throws WorkerException, InterruptedException {
        if (options.type() != null) {
            return new Discovery(registry.require(options.type(), "--type " + options.type() + ": "), null);
        }
        Optional<WorkPool> found;
        try {
            found = new PrefectObjects(client).workPool(options.pool());
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
            return new Discovery(registry.require("process", ""), null);
        }
        String poolType = found.get().type() == null ? "" : found.get().type();
        if (poolType.endsWith(":push") || poolType.endsWith(":managed")) {
            throw new WorkerException("Work pool '" + options.pool() + "' is a " + poolType
                    + " pool; workers are not required for push or managed work pools.");
        }
        InfrastructurePlugin plugin = registry.require(poolType, "work pool '" + options.pool() + "' has ");
        log.info("Discovered type '{}' for work pool '{}'.", poolType, options.pool());
        return new Discovery(plugin, found.get());
    }

    static String hintFor(ApiException e) {
        return switch (e.status()) {
            case 401 -> " (check PREFECT_API_KEY or PREFECT_API_AUTH_STRING)";
            case 403 -> " (the credentials lack permission, or the pool name is reserved)";
            default -> "";
        };
    }

    /** Warns, on a thread of its own, when the pool or every queue served is paused: only a warning, never a wait. */
    private void warnIfPaused(WorkPool pool) {
        Thread.ofVirtual().name("pworker-preflight").start(() -> {
            if (pool.paused()) {
                log.warn("Work pool '{}' is paused. This worker will not pick up runs until the pool is resumed.",
                        options.pool());
            }
            try {
                List<JsonNode> queues = client.readWorkQueues(options.pool(), options.workQueues());
                if (!queues.isEmpty() && queues.stream().allMatch(q -> q.path("is_paused").asBoolean(false))) {
                    log.warn("All work queues this worker serves in pool '{}' are paused.", options.pool());
                }
            } catch (ApiException e) {
                // only a warning; the loops report API errors
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
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

    /** When a poll last got an answer from the Prefect API; the worker's start time until then. */
    public Instant lastPolled() {
        Poller p = poller;
        return p == null ? createdAt : p.lastPolled();
    }

    /** Runs the worker: state directory, plugin, first sync and reconcile, health server, loops. */
    public void start() throws WorkerException, InterruptedException {
        Path stateDirectory = RunStore.location(this::setting);
        try {
            store = RunStore.open(stateDirectory);
            launcher = new GuardedLauncher(type, plugin.create(new PluginContext(name, environment, console, clock,
                    store.pluginDirectory(type))));
        } catch (IOException e) {
            throw new WorkerException("Cannot use the state directory " + stateDirectory + ": " + e.getMessage()
                    + " (set PWORKER_STATE_DIR to a writable directory)", e);
        } catch (InfrastructureException e) {
            throw new WorkerException("Cannot start the '" + type + "' infrastructure: " + e.getMessage(), e);
        } catch (RuntimeException | LinkageError e) {
            throw new WorkerException("The '" + type + "' plugin failed to start: " + e, e);
        }
        log.info("State directory: {}", store.root());
        ConfigurationBuilder configurations = new ConfigurationBuilder(prefect, environment, this::inheritedEnvironment, name);
        RunReporter reporter = new RunReporter(prefect, () -> stopping);
        RunServices services = new RunServices(name, type, plugin.capabilities(), settings.killGracePeriod(), prefect,
                new Submission(prefect, events, name, type), configurations, reporter, events, logs, launcher, store,
                poolSync::pool, clock, metrics);
        Slots slots = new Slots(options.limit());
        runs = new Runs(services, slots);
        metrics.bind(new WorkerMetrics.WorkerGauges(type, runs::size,
                () -> options.limit() == null ? null : Math.max(0, options.limit() - slots.inUse()), this::lastPolled,
                () -> cancellations != null && !cancellations.polling(), clock));
        reconciler = new Reconciler(store, runs, launcher, prefect, configurations, type);
        Duration prefetch = Duration.ofSeconds(options.prefetchSeconds() != null ? options.prefetchSeconds()
                : settings.prefetchSeconds());
        poller = new Poller(prefect, poolSync, runs, options, prefetch, clock, reconciler::ranOnce, () -> stopping);
        // The first sync: the pool (as read by the type discovery when it was), then the heartbeat on a thread of
        // its own while the worker reconciles, checks the server's version and begins to poll. The poll needs the
        // pool and the reconcile, nothing else; start-up still fails when the server refuses either request.
        FirstHeartbeat heartbeat = null;
        try {
            // a pool read more than a moment ago (an embedder that starts long after create) is read again
            boolean fresh = Duration.between(createdAt, clock.instant()).compareTo(Duration.ofSeconds(2)) < 0;
            if (poolSync.refresh(fresh ? discovered : null)) {
                poolSync.pool().ifPresent(this::warnIfPaused);
                heartbeat = new FirstHeartbeat(poolSync);
                afterSync();
            }
        } catch (ApiException e) {
            refuseOrWarn(e);
        }
        try {
            // another major version speaks another API: refuse now, rather than run without events or cancellations
            client.checkServerVersion();
        } catch (io.pworker.api.IncompatibleServerException e) {
            throw new WorkerException(e.getMessage(), e);
        }
        if (options.withHealthcheck()) {
            try {
                health = HealthServer.start(settings.webserverHost(), settings.webserverPort(), this::lastPolled,
                        settings.querySeconds().multipliedBy(30), clock);
                Instant unpolled = poller.lastPolled();
                health.serveReadiness(() -> !poller.lastPolled().equals(unpolled));
                if (metrics.enabled()) {
                    health.serve("/metrics", "text/plain; version=0.0.4; charset=utf-8", metrics::scrape);
                }
            } catch (IOException e) {
                throw new WorkerException("Cannot serve /health on " + settings.webserverHost() + ":"
                        + settings.webserverPort() + ": " + e.getMessage(), e);
            }
        }
        LoopBeat pollBeat = null;
        // on Prefect Cloud the heartbeat's answer names the worker, and polls should carry that name
        boolean pollNow = !options.runOnce() && !settings.isCloud();
        if (!options.runOnce()) {
            pollBeat = new LoopBeat("poll", settings.querySeconds(), watchdogAllowance(), clock);
            if (pollNow) {
                startPollLoop(pollBeat);
            }
        }
        if (heartbeat != null) {
            try {
                heartbeat.await();
            } catch (ApiException e) {
                if (!e.isTransient() && pollThread != null) {
                    stop();
                }
                refuseOrWarn(e);
            }
        }
        if (!options.runOnce() && !pollNow) {
            startPollLoop(pollBeat);
        }
        startedEventId = events.started(poolSync.pool().map(WorkPool::id).orElse(null));
        if (!options.runOnce()) {
            LoopBeat syncBeat = new LoopBeat("sync", settings.heartbeatSeconds(), watchdogAllowance(), clock);
            syncThread = ServiceLoop.start("sync", settings.heartbeatSeconds(), true, () -> stopping,
                    syncBeat.around(this::syncAndReconcile));
            systemd = ServiceNotifications.start(io.pworker.systemd.SystemdNotifier.fromEnvironment(environment),
                    new ServiceNotifications.Summary(options.pool(), type, options.limit(), () -> runs.size(),
                            this::lastPolled, settings.querySeconds()), List.of(syncBeat, pollBeat), clock);
        }
        console.println("Worker '" + name + "' started!");
    }

    /** One sync tick: pool and heartbeat, then the reconcile that needs the pool's id. */
    private void syncAndReconcile() throws ApiException, InterruptedException {
        poolSync.sync();
        afterSync();
    }

    private void afterSync() throws InterruptedException {
        Optional<WorkPool> pool = poolSync.pool();
        if (pool.isPresent()) {
            startCancellationFeed(pool.get().id());
            reconciler.reconcile(pool.get());
        }
    }

    /** An API error while starting: a refusal ends the start, anything transient is retried by the loops. */
    private static void refuseOrWarn(ApiException e) throws WorkerException {
        if (!e.isTransient()) {
            throw new WorkerException("The Prefect API refused the worker: " + e.getMessage() + hintFor(e), e);
        }
        log.warn("Unable to reach the Prefect API while starting up ({}); the worker will keep attempting to connect",
                e.getMessage());
    }

    /** Beats let the systemd watchdog tell a wedged loop from a slow one (PWORKER_WATCHDOG_STALL_SECONDS). */
    private Duration watchdogAllowance() {
        return LoopBeat.allowance(setting("PWORKER_WATCHDOG_STALL_SECONDS"));
    }

    private void startPollLoop(LoopBeat pollBeat) {
        pollThread = ServiceLoop.start("poll", settings.querySeconds(), false, () -> stopping, pollWake,
                pollBeat.around(poller::poll));
    }

    /** The first heartbeat, sent on a virtual thread of its own while the worker starts. */
    private static final class FirstHeartbeat {
        private final java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();

        FirstHeartbeat(PoolSync poolSync) {
            Thread.ofVirtual().name("pworker-heartbeat").start(() -> {
                try {
                    poolSync.heartbeat();
                    done.complete(null);
                } catch (ApiException | InterruptedException | RuntimeException e) {
                    done.completeExceptionally(e);
                }
            });
        }

        void await() throws ApiException, InterruptedException {
            try {
                done.get();
            } catch (java.util.concurrent.ExecutionException e) {
                switch (e.getCause()) {
                    case ApiException api -> throw api;
                    case InterruptedException interrupted -> throw interrupted;
                    case RuntimeException runtime -> throw runtime;
                    default -> throw new IllegalStateException(e.getCause());
                }
            }
        }
    }

    private synchronized void startCancellationFeed(String poolId) {
        if (cancellations != null || stopping || options.runOnce()) {
            return;
        }
        Duration interval = settings.explicit().containsKey("PREFECT_WORKER_CANCELLATION_POLL_SECONDS")
                ? settings.cancellationPollSeconds() : settings.querySeconds();
        cancellations = new CancellationFeed(client, poolId, runs::ids, runs::cancel, this::scheduled, interval, clock);
    }

    /** A run was scheduled in the pool: poll now rather than at the next tick, unless it is for a queue not served. */
    private void scheduled(String queue) {
        List<String> served = options.workQueues();
        if (served.isEmpty() || queue.isEmpty() || served.contains(queue)) {
            pollWake.wake();
        }
    }

    /** A worker setting from its environment, else from its settings (where tests and embedders put them). */
    /** A setting by name: the worker's environment first, then the loaded settings (Prefect's, then pworker's own). */
    private String setting(String key) {
        String value = environment.get(key);
        if (value == null) {
            value = settings.explicit().get(key);
        }
        return value != null ? value : settings.own().get(key);
    }

    /** Prefect settings set for this worker, forwarded to flow runs (worker-spec §2.6 step 1). */
    private Map<String, String> inheritedEnvironment() {
        return inheritedEnvironment(settings, client.http().workerId());
    }

    /** The same for {@code pworker render}, which has settings but no running worker. */
    static Map<String, String> inheritedEnvironment(Settings settings, Optional<String> workerId) {
        Map<String, String> env = new LinkedHashMap<>();
        settings.explicit().forEach((k, v) -> {
            if (k.startsWith("PREFECT_") && !k.startsWith("PREFECT_WORKER_")) {
                env.put(k, v);
            }
        });
        env.put("PREFECT_API_URL", settings.apiUrl().toString());
        workerId.ifPresent(id -> env.put("PREFECT__WORKER_ID", id));
        return env;
    }

    /** {@code --run-once}: one sync and reconcile (done by start), one poll, wait for the runs, stop. */
    public void runOnce() throws InterruptedException {
        try {
            poller.poll();
        } catch (ApiException e) {
            log.error("Polling work pool '{}' failed: {}", options.pool(), e.getMessage());
        }
        runs.awaitAll();
        stop();
    }

    /** Blocks until {@link #stop()} has finished. */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Graceful stop: no more claims; launches in progress are interrupted and their runs reported; local
     * processes are stopped (SIGTERM, then SIGKILL after the grace period) and reported Crashed, as Prefect's
     * process worker does; infrastructure that outlives the worker keeps running and stays recorded in the state
     * directory for the next worker. Then the stopped event is sent and everything is closed. Idempotent;
     * returns when done.
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
        if (systemd != null) {
            systemd.stopping();
        }
        try {
            for (Thread t : new Thread[] {pollThread, syncThread}) {
                if (t != null) {
                    t.interrupt();
                    t.join(Duration.ofSeconds(5));
                }
            }
            if (runs != null) {
                int active = runs.size();
                if (active > 0) {
                    log.info(plugin.capabilities().outlivesWorker()
                            ? "{} flow run(s) keep running on their infrastructure and report their own state"
                            : "Stopping {} flow run process(es) before exiting", active);
                }
                runs.stopAll();
                runs.awaitAll(clock.instant().plus(settings.killGracePeriod()).plusSeconds(20), clock);
            }
            if (cancellations != null) {
                cancellations.close();
            }
            events.stopped(poolSync.pool().map(WorkPool::id).orElse(null), startedEventId);
            emitter.close(Duration.ofSeconds(5));
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
}
