package io.pworker.worker;

import io.pworker.api.ApiException;
import io.pworker.api.FlowRun;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The poll tick (worker-spec §1.5): asks for scheduled runs and starts a supervisor for each one that gets a
 * slot. It polls only once the pool is known and the runs left by an earlier worker process have been taken
 * over, and it is the only writer of {@link #lastPolled()}, which moves only when the API answered a poll.
 */
final class Poller {

    private static final Logger log = LoggerFactory.getLogger(Poller.class);
    /** The most runs a Prefect server returns for one poll (its default API limit, 200). */
    static final int PAGE = 200;
    /** Pages asked for in one poll at most: a server failing every claim must not keep the loop polling. */
    static final int MAX_PAGES = 10;

    private final PrefectObjects prefect;
    private final PoolSync poolSync;
    private final Runs runs;
    private final WorkerOptions options;
    private final Duration prefetch;
    private final Clock clock;
    private final BooleanSupplier ready;
    private final BooleanSupplier stopping;
    private volatile Instant lastPolled;

    /**
     * @param ready    true once the first reconcile ran
     * @param stopping true once the worker stops
     */
    Poller(PrefectObjects prefect, PoolSync poolSync, Runs runs, WorkerOptions options, Duration prefetch, Clock clock,
            BooleanSupplier ready, BooleanSupplier stopping) {
        this.prefect = prefect;
        this.poolSync = poolSync;
        this.runs = runs;
        this.options = options;
        this.prefetch = prefetch;
        this.clock = clock;
        this.ready = ready;
        this.stopping = stopping;
        // a worker that just started counts as healthy until the health threshold has passed
        this.lastPolled = clock.instant();
    }

    /** When a poll last got an answer from the API (or when the worker started). */
    Instant lastPolled() {
        return lastPolled;
    }

    void poll() throws ApiException, InterruptedException {
        Optional<WorkPool> snapshot = poolSync.pool();
        if (snapshot.isEmpty() || !ready.getAsBoolean()) {
            return;
        }
        List<String> queues = poolSync.pollQueues();
        if (!options.workQueues().isEmpty() && queues.isEmpty()) {
            // none of the requested queues exists; an empty list would mean "all queues" to the server
            return;
        }
        PollReads reads = PollReads.forPoll(prefect);
        ClaimGate gate = new ClaimGate();
        try {
            for (int page = 1; page <= MAX_PAGES; page++) {
                List<FlowRun> due = prefect.scheduledFlowRuns(options.pool(), queues, clock.instant().plus(prefetch));
                lastPolled = clock.instant();
                int started = 0;
                for (FlowRun run : due) {
                    if (stopping.getAsBoolean()) {
                        return;
                    }
                    gate.expect();
                    Runs.Start start = runs.startNew(run, snapshot.get(), reads, gate);
                    if (start == Runs.Start.STARTED) {
                        started++;
                    } else {
                        gate.answered();
                    }
                    if (start == Runs.Start.NO_SLOT) {
                        log.debug("Flow run limit reached; {} flow runs in progress.", runs.size());
                        return;
                    }
                }
                if (due.size() < PAGE || started == 0) {
                    return;
                }
                // a full page: more runs may be due. The server answers with the runs still SCHEDULED, so ask
                // again once this page's claims are nearly all answered (the runs still being claimed come back
                // and are skipped as active), rather than at the next tick, up to 10 s later.
                gate.awaitAnswered(Submission.CONCURRENT_CLAIMS, stopping);
            }
        } finally {
            gate.close();
        }
    }
}
