package io.pworker.worker;

import io.pworker.api.ApiException;
import io.pworker.api.FlowRun;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructureScope;
import io.pworker.state.Lease;
import io.pworker.state.RunRecord;
import io.pworker.state.RunStore;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes what this worker supervises match what the state directory and the infrastructure say, level-triggered:
 * it runs before the first poll and after every sync tick, and each pass starts from what it finds, so a pass
 * that fails (API down, backend unreachable) is simply repeated by the next one.
 *
 * <ul>
 *   <li>Every record of this pool and type that no live worker process holds is handed to a new
 *       {@link RunSupervisor}, which finds out what became of the run.</li>
 *   <li>Infrastructure the plugin finds for this pool that no record mentions and whose run is final is released,
 *       which removes it where the job configuration asks for that. Infrastructure of runs that are not final is
 *       left alone: it may belong to another live worker.</li>
 * </ul>
 */
final class Reconciler {

    private static final Logger log = LoggerFactory.getLogger(Reconciler.class);
    private static final List<String> FINAL = List.of("COMPLETED", "FAILED", "CANCELLED", "CRASHED");

    private final RunStore store;
    private final Runs runs;
    private final InfrastructureLauncher launcher;
    private final PrefectObjects prefect;
    private final ConfigurationBuilder configurations;
    private final String type;
    /** Orphans already released by this process; they may still be listed when their template keeps them. */
    private final Set<String> released = ConcurrentHashMap.newKeySet();
    private volatile boolean ranOnce;

    Reconciler(RunStore store, Runs runs, InfrastructureLauncher launcher, PrefectObjects prefect,
            ConfigurationBuilder configurations, String type) {
        this.store = store;
        this.runs = runs;
        this.launcher = launcher;
        this.prefect = prefect;
        this.configurations = configurations;
        this.type = type;
    }

    /** True once the records have been taken over at least once; the first poll waits for it. */
    boolean ranOnce() {
        return ranOnce;
    }

    void reconcile(WorkPool pool) throws InterruptedException {
        List<RunRecord> records = store.scan();
        takeOverRecords(records, pool);
        ranOnce = true;
        releaseOrphans(records, pool);
    }

    private void takeOverRecords(List<RunRecord> records, WorkPool pool) {
        for (RunRecord found : records) {
            if (!found.type().equals(type) || !found.workPoolName().equals(pool.name())
                    || !found.workPoolId().equals(pool.id()) || runs.isActive(found.flowRunId())) {
                continue;
            }
            Optional<Lease> lease;
            try {
                lease = store.lease(found.flowRunId());
            } catch (IOException e) {
                log.warn("Cannot lock the record of flow run {}: {}", found.flowRunId(), e.getMessage());
                continue;
            }
            if (lease.isEmpty()) {
                continue; // a live worker process supervises it
            }
            // read again under the lock: its supervisor may have finished and deleted it since the scan
            Optional<RunRecord> current = store.read(found.flowRunId());
            if (current.isEmpty()) {
                try {
                    lease.get().delete();
                } catch (IOException e) {
                    lease.get().close();
                }
                continue;
            }
            if (runs.startRecovered(current.get(), lease.get(), pool)) {
                log.info("Taking over flow run {} ({}), left by worker '{}'", found.flowRunId(),
                        current.get().stage().name().toLowerCase(java.util.Locale.ROOT), current.get().workerName());
            } else {
                lease.get().close();
            }
        }
    }

    private void releaseOrphans(List<RunRecord> records, WorkPool pool) throws InterruptedException {
        List<Discovered> found;
        try {
            found = launcher.discover(new InfrastructureScope(pool.id(), pool.name(), null,
                    configurations.poolDefaults(pool)));
        } catch (InfrastructureException e) {
            log.debug("Cannot list the infrastructure of work pool '{}': {}", pool.name(), e.getMessage());
            return;
        }
        Set<String> known = new HashSet<>(runs.ids());
        records.forEach(r -> known.add(r.flowRunId()));
        known.addAll(released);
        List<Discovered> orphans = found.stream().filter(d -> !known.contains(d.flowRunId())).toList();
        if (orphans.isEmpty()) {
            return;
        }
        List<FlowRun> finals;
        try {
            finals = prefect.flowRuns(orphans.stream().map(Discovered::flowRunId).toList(), FINAL);
        } catch (ApiException e) {
            log.debug("Cannot read the runs of unrecorded infrastructure: {}", e.getMessage());
            return;
        }
        for (FlowRun run : finals) {
            for (Discovered d : orphans) {
                if (d.flowRunId().equals(run.id()) && released.add(run.id())) {
                    var config = configurations.rebuild(run, pool);
                    launcher.release(d.handle(), config.prepared().configuration());
                    log.info("Released infrastructure {} of flow run {}, which is {} and has no record here",
                            d.handle().infrastructurePid(), run.id(), run.stateType());
                }
            }
        }
    }
}
