package io.pworker.worker;

import io.pworker.api.ApiException;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import io.pworker.settings.Settings;
import io.pworker.spi.InfrastructurePlugin;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sync tick (worker-spec §1.4): reads the pool (creating it when allowed), installs the type's default
 * template into an empty one, finds which requested queues exist, and heartbeats. Owned by the sync loop; the
 * snapshot it publishes is an immutable record read by the poller and the supervisors.
 */
final class PoolSync {

    private static final Logger log = LoggerFactory.getLogger(PoolSync.class);

    private final PrefectObjects prefect;
    private final WorkerOptions options;
    private final InfrastructurePlugin plugin;
    private final Settings settings;
    private final String workerName;
    private final AtomicReference<WorkPool> pool = new AtomicReference<>();
    private final AtomicBoolean warnedTypeMismatch = new AtomicBoolean();
    private final AtomicBoolean warnedPoolMissing = new AtomicBoolean();
    private final Set<String> warnedQueues = ConcurrentHashMap.newKeySet();
    /** The requested queues that exist; a single unknown name would make the server answer 404 to every poll. */
    private volatile List<String> pollQueues;

    PoolSync(PrefectObjects prefect, WorkerOptions options, InfrastructurePlugin plugin, Settings settings,
            String workerName) {
        this.prefect = prefect;
        this.options = options;
        this.plugin = plugin;
        this.settings = settings;
        this.workerName = workerName;
        this.pollQueues = options.workQueues();
    }

    /** The latest snapshot, once the pool has been read. */
    Optional<WorkPool> pool() {
        return Optional.ofNullable(pool.get());
    }

    List<String> pollQueues() {
        return pollQueues;
    }

    /** One sync tick: the pool, then the heartbeat. */
    void sync() throws ApiException, InterruptedException {
        if (refresh(null)) {
            heartbeat();
        }
    }

    /**
     * Reads the pool (creating it when allowed), installs the default template into an empty one, finds the
     * requested queues and publishes the snapshot.
     *
     * @param justRead the pool as read a moment ago (the type discovery at start-up), used instead of reading it
     *                 again; null to read it
     * @return whether the pool exists; a worker heartbeats only then
     */
    boolean refresh(WorkPool justRead) throws ApiException, InterruptedException {
        String poolName = options.pool();
        Optional<WorkPool> found = justRead != null ? Optional.of(justRead) : prefect.workPool(poolName);
        WorkPool p;
        if (found.isPresent()) {
            p = found.get();
        } else if (options.createPoolIfNotFound()) {
            Optional<WorkPool> created = prefect.createWorkPool(poolName, plugin.type(), options.baseJobTemplate());
            if (created.isPresent()) {
                log.info("Work pool '{}' created.", poolName);
                p = created.get();
            } else {
                p = prefect.workPool(poolName).orElse(null);
            }
        } else {
            p = null;
        }
        if (p == null) {
            if (warnedPoolMissing.compareAndSet(false, true)) {
                log.warn("Work pool '{}' not found! The worker idles until it exists.", poolName);
            }
            return false;
        }
        warnedPoolMissing.set(false);
        if (!p.hasTemplate()) {
            var defaults = plugin.defaultBaseJobTemplate();
            prefect.client().updateWorkPoolTemplate(poolName, defaults);
            p = p.withTemplate(defaults);
        }
        if (!plugin.type().equals(p.type()) && warnedTypeMismatch.compareAndSet(false, true)) {
            log.warn("Worker type mismatch! This worker expects type '{}' but work pool '{}' has type '{}'. "
                    + "Runs will be launched as '{}'.", plugin.type(), poolName, p.type(), plugin.type());
        }
        if (!options.workQueues().isEmpty()) {
            refreshQueues(poolName);
        }
        pool.set(p);
        return true;
    }

    /** Tells the server this worker is alive; on Prefect Cloud the first answer names the worker's id. */
    void heartbeat() throws ApiException, InterruptedException {
        String poolName = options.pool();
        Optional<String> id = prefect.client().heartbeat(poolName, workerName, settings.heartbeatSeconds().toSeconds(),
                settings.isCloud() && prefect.client().http().workerId().isEmpty());
        id.ifPresent(prefect.client().http()::workerId);
    }

    private void refreshQueues(String poolName) throws ApiException, InterruptedException {
        Set<String> existing = new TreeSet<>();
        prefect.client().readWorkQueues(poolName, options.workQueues()).forEach(q -> existing.add(q.path("name").asText()));
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
}
