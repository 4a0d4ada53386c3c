package io.pworker.worker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.ApiException;
import io.pworker.api.Deployment;
import io.pworker.api.FlowRun;
import io.pworker.api.OrchestrationResult;
import io.pworker.api.PrefectObjects;
import io.pworker.api.StateProposals;
import io.pworker.api.WorkPool;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API side of submitting a run, before anything is launched (worker-spec §2.1 steps 1–6): the deployment
 * check, the PENDING claim that decides which worker launches the run, and the announcements once the run's
 * configuration is built (event, labels, "Submitting").
 */
final class Submission {

    private static final Logger log = LoggerFactory.getLogger(Submission.class);
    /** Prefect's process pid carries no host; this label keeps that scope for people and tools. */
    private static final String HOST = hostName();

    /**
     * Claims in flight at once. A backlog of hundreds of due runs would otherwise propose PENDING all together,
     * and a SQLite-backed server answers that with "database is locked" and retries; a few at a time is what the
     * server serves fastest (its own floor is measured 8 at a time, see the README), and the runs claimed go on
     * to launch while the next ones are claimed. Fair, so runs are claimed in the order the poll found them.
     */
    static final int CONCURRENT_CLAIMS = 8;
    /**
     * The other writes of a submission in flight at once (labels, "Submitting", infrastructure pid). Measured on a
     * real 3.4.25 server with 300 due runs: unbounded, these writes made the server answer "database is locked"
     * to ~250 requests, whose retries (2, 4, 8, 16 s) delayed the last claims by 15 s. Fewer than the claims, so
     * that claims go first and launches follow close behind.
     */
    static final int CONCURRENT_WRITES = 2;
    /** Pauses between proposals of a claim that went unanswered after all of the transport's retries. */
    static final Duration FIRST_UNANSWERED_PAUSE = Duration.ofSeconds(2);
    static final Duration MAX_UNANSWERED_PAUSE = Duration.ofSeconds(60);

    private final PrefectObjects prefect;
    private final Semaphore claims = new Semaphore(CONCURRENT_CLAIMS, true);
    private final Semaphore writes = new Semaphore(CONCURRENT_WRITES, true);
    private final RunEvents events;
    private final String workerName;
    private final String type;

    Submission(PrefectObjects prefect, RunEvents events, String workerName, String type) {
        this.prefect = prefect;
        this.events = events;
        this.workerName = workerName;
        this.type = type;
    }

    /**
     * A run this worker won: it is PENDING and ours to launch.
     *
     * @param deployment the run's deployment, or null for a run without one
     */
    record Claimed(Deployment deployment) {
    }

    /**
     * Checks the deployment, then proposes PENDING. Empty when the run is not ours to launch (deleted deployment,
     * another worker won, the server refused); the reason has been logged.
     *
     * @param reads where the deployment is read (shared by the runs of one poll)
     * @param stop  asked between attempts when the server says WAIT
     */
    Optional<Claimed> claim(FlowRun run, PollReads reads, RunLogger rlog, BooleanSupplier stop)
            throws ApiException, InterruptedException {
        claims.acquire();
        try {
            return claimNow(run, reads, rlog, stop);
        } finally {
            claims.release();
        }
    }

    private Optional<Claimed> claimNow(FlowRun run, PollReads reads, RunLogger rlog, BooleanSupplier stop)
            throws ApiException, InterruptedException {
        String id = run.id();
        Deployment deployment = null;
        if (run.deploymentId() != null) {
            deployment = reads.deployment(run.deploymentId()).orElse(null);
            if (deployment == null) {
                log.warn("Deployment {} no longer exists. Flow run {} will not be submitted for execution",
                        run.deploymentId(), id);
                prefect.client().setState(id, "CANCELLED", "Cancelled",
                        "Deployment " + run.deploymentId() + " no longer exists, cancelled run.", true);
                return Optional.empty();
            }
        }
        rlog.info("Worker '" + workerName + "' submitting flow run '" + id + "'");
        ObjectNode proposal = StateProposals.body(id, "PENDING", "Pending", null, false);
        Duration unanswered = FIRST_UNANSWERED_PAUSE;
        boolean lastUnanswered = false;
        while (!stop.getAsBoolean()) {
            Optional<OrchestrationResult> answer;
            try {
                answer = prefect.client().setState(id, proposal);
            } catch (ApiException e) {
                if (!e.isTransient()) {
                    rlog.error("Failed to update state of flow run '" + id + "': " + e.getMessage(), null);
                    return Optional.empty();
                }
                // Every retry went unanswered, yet the server may have taken the claim: given up now, the run would
                // stay PENDING with nobody to launch it (Prefect's worker leaves it so). The same proposal, sent
                // again once the server answers, settles it: the server knows its transition id if it took it.
                log.warn("No answer to the claim of flow run {} ({}); asking again in {} s with the same proposal",
                        id, e.getMessage(), unanswered.toSeconds());
                lastUnanswered = true;
                pauseOutsideClaims(unanswered);
                unanswered = unanswered.multipliedBy(2).compareTo(MAX_UNANSWERED_PAUSE) > 0
                        ? MAX_UNANSWERED_PAUSE : unanswered.multipliedBy(2);
                continue;
            }
            lastUnanswered = false;
            if (answer.isEmpty()) {
                log.info("Flow run {} no longer exists; not submitting it", id);
                return Optional.empty();
            }
            OrchestrationResult r = answer.get();
            switch (r.status()) {
                case "ACCEPT":
                    return Optional.of(new Claimed(deployment));
                case "REJECT":
                    if ("PENDING".equals(r.stateType())) {
                        return Optional.of(new Claimed(deployment));
                    }
                    rlog.info("Aborted submission of flow run '" + id + "': Server returned a non-pending state '"
                            + r.stateType() + "'");
                    return Optional.empty();
                case "WAIT":
                    Thread.sleep(Duration.ofMillis(Math.round(Math.min(60, Math.max(0.1, r.delaySeconds())) * 1000)));
                    // a new proposal is a new transition (worker-spec §2.7)
                    proposal = StateProposals.body(id, "PENDING", "Pending", null, false);
                    continue;
                default:
                    rlog.info("Aborted submission of flow run '" + id + "'. Server sent an abort signal: " + r.reason());
                    return Optional.empty();
            }
        }
        if (lastUnanswered) {
            log.warn("Stopped before the server answered the claim of flow run {}; if it took the claim, the run"
                    + " stays PENDING until it is cancelled or rescheduled", id);
        }
        return Optional.empty();
    }

    /** Waits without holding a claim turn, so that the claims of other runs go on meanwhile. */
    private void pauseOutsideClaims(Duration pause) throws InterruptedException {
        claims.release();
        try {
            Thread.sleep(pause);
        } finally {
            claims.acquireUninterruptibly();
        }
    }

    /**
     * Tells Prefect the run is being submitted: the submitted event, the worker's labels on the run (refused
     * labels fail the submission, as in Prefect) and the "Submitting" state (a failure there does not).
     *
     * @return the submitted event's id, which the executed event follows
     */
    String announce(ConfigurationBuilder.PreparedRun prepared, WorkPool pool, RunLogger rlog)
            throws ApiException, InterruptedException {
        String id = prepared.info().id();
        String eventId = events.submitted(prepared.info());
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("prefect.worker.name", workerName);
        labels.put("prefect.worker.type", type);
        labels.put("prefect.work-pool.name", pool.name());
        labels.put("prefect.work-pool.id", pool.id());
        labels.put("pworker.host", HOST);
        writes.acquire();
        try {
            try {
                prefect.client().updateLabels(id, labels);
            } catch (ApiException e) {
                if (!e.isTransient()) {
                    throw e;
                }
                // SQLite servers answer this PATCH "database is locked" under bursts, beyond every retry; Prefect's
                // worker crashes the run then. The labels only describe the run: launch it without them.
                rlog.warn("Could not set the worker's labels on flow run '" + id + "' (" + e.getMessage()
                        + "); launching it anyway");
            }
            // a server that would abort it (3.4 does) is not asked: under a burst on SQLite, every write counts
            if (prefect.client().http().serverVersion().takesNamedPendingStates()) {
                try {
                    prefect.client().setState(id, "PENDING", "Submitting", null, false);
                } catch (ApiException e) {
                    rlog.debug("Could not mark the run Submitting: " + e.getMessage());
                }
            }
        } finally {
            writes.release();
        }
        return eventId;
    }

    /** Records the run's infrastructure on it, taking its turn among the submissions' other writes. */
    void setInfrastructurePid(String flowRunId, String pid) throws ApiException, InterruptedException {
        writes.acquire();
        try {
            prefect.client().setInfrastructurePid(flowRunId, pid);
        } finally {
            writes.release();
        }
    }

    /** The kernel's host name; no DNS look-up, which can stall start-up on machines without a resolver. */
    private static String hostName() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (java.io.IOException | RuntimeException e) {
            return System.getenv().getOrDefault("HOSTNAME", "unknown");
        }
    }
}
