package io.pworker.worker;

import io.pworker.api.FlowRun;
import io.pworker.api.WorkPool;
import io.pworker.state.Lease;
import io.pworker.state.RunRecord;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runs this worker supervises, one {@link RunSupervisor} and one virtual thread each. Registering a run, its
 * slot and the shutdown flag change together under this object's lock, so no supervisor can start after
 * {@link #stopAll} has told the others to stop.
 */
final class Runs {

    private static final Logger log = LoggerFactory.getLogger(Runs.class);

    enum Start {
        STARTED, ALREADY_ACTIVE, NO_SLOT
    }

    private final RunServices services;
    private final Slots slots;
    private final Map<String, RunSupervisor> active = new HashMap<>();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private boolean stopping;

    Runs(RunServices services, Slots slots) {
        this.services = services;
        this.slots = slots;
    }

    /**
     * Starts supervising a run found by a poll, when a slot is free; {@code reads} and {@code gate} are that
     * poll's, and the supervisor answers the gate once its claim is answered.
     */
    Start startNew(FlowRun run, WorkPool pool, PollReads reads, ClaimGate gate) {
        RunSupervisor supervisor = new RunSupervisor(run.id(), services);
        synchronized (this) {
            if (active.containsKey(run.id())) {
                return Start.ALREADY_ACTIVE;
            }
            if (stopping || !slots.tryAcquire(run.id())) {
                return Start.NO_SLOT;
            }
            active.put(run.id(), supervisor);
        }
        spawn(supervisor, () -> supervisor.runNew(run, pool, reads, gate));
        return Start.STARTED;
    }

    /** Starts supervising a run another worker process left behind; false when it is already supervised here. */
    boolean startRecovered(RunRecord record, Lease lease, WorkPool pool) {
        RunSupervisor supervisor = new RunSupervisor(record.flowRunId(), services);
        synchronized (this) {
            if (stopping || active.containsKey(record.flowRunId())) {
                return false;
            }
            slots.forceAcquire(record.flowRunId());
            active.put(record.flowRunId(), supervisor);
        }
        spawn(supervisor, () -> supervisor.runRecovered(record, lease, pool));
        return true;
    }

    private void spawn(RunSupervisor supervisor, Runnable body) {
        String id = supervisor.flowRunId();
        Thread thread = Thread.ofVirtual().name("pworker-run-" + id).unstarted(() -> {
            try {
                body.run();
            } finally {
                synchronized (this) {
                    active.remove(id, supervisor);
                    slots.release(id);
                }
                threads.remove(Thread.currentThread());
            }
        });
        threads.add(thread);
        thread.start();
    }

    synchronized boolean isActive(String flowRunId) {
        return active.containsKey(flowRunId);
    }

    /** Ids of the runs supervised now; the cancellation feed watches these. */
    synchronized Set<String> ids() {
        return Set.copyOf(active.keySet());
    }

    synchronized int size() {
        return active.size();
    }

    /** Forwards a CANCELLING notice; ignored for runs this worker does not supervise. */
    void cancel(String flowRunId) {
        RunSupervisor supervisor;
        synchronized (this) {
            supervisor = active.get(flowRunId);
        }
        if (supervisor != null) {
            supervisor.requestCancel();
        }
    }

    /** Tells every supervisor that the worker is stopping; each decides what that means for its run. */
    void stopAll() {
        List<RunSupervisor> all;
        synchronized (this) {
            stopping = true;
            all = List.copyOf(active.values());
        }
        all.forEach(RunSupervisor::workerStopping);
    }

    /** Waits for every supervisor thread to finish ({@code --run-once}). */
    void awaitAll() throws InterruptedException {
        for (Thread t : List.copyOf(threads)) {
            t.join();
        }
    }

    /** Waits for every supervisor thread until {@code deadline}; false when some did not finish. */
    boolean awaitAll(Instant deadline, Clock clock) throws InterruptedException {
        boolean all = true;
        for (Thread t : List.copyOf(threads)) {
            Duration left = Duration.between(clock.instant(), deadline);
            if (left.isNegative() || !t.join(left)) {
                log.warn("Gave up waiting for {}", t.getName());
                all = false;
            }
        }
        return all;
    }
}
