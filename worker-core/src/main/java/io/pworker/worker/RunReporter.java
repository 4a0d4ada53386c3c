package io.pworker.worker;

import io.pworker.api.ApiException;
import io.pworker.api.FlowRun;
import io.pworker.api.OrchestrationResult;
import io.pworker.api.PrefectObjects;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out {@link Verdict}s and the other state proposals a supervisor makes. A report must not be lost to an
 * API outage: transient failures are retried with back-off until the server answers, or until the worker stops,
 * in which case the run's record stays in the state directory and the next worker reports it.
 */
final class RunReporter {

    private static final Logger log = LoggerFactory.getLogger(RunReporter.class);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
    private static final Set<String> NO_INFRASTRUCTURE_PENDING = Set.of("RUNNING", "PAUSED", "CANCELLING", "COMPLETED",
            "FAILED", "CANCELLED", "CRASHED");

    private final PrefectObjects prefect;
    private final BooleanSupplier stopping;

    RunReporter(PrefectObjects prefect, BooleanSupplier stopping) {
        this.prefect = prefect;
        this.stopping = stopping;
    }

    /** The worker stopped while the API was down; whatever was being reported is left for the next worker. */
    static final class StoppedWaiting extends Exception {
        StoppedWaiting() {
            super("the worker stopped while waiting for the Prefect API");
        }
    }

    interface Call<T> {
        T run() throws ApiException, InterruptedException;
    }

    /**
     * Runs {@code call} until the API answers. Transient failures (no connection, 5xx, 429) are retried with
     * back-off; other failures are thrown at once.
     */
    <T> T persist(String what, Call<T> call) throws ApiException, InterruptedException, StoppedWaiting {
        long backoff = 1000;
        boolean failing = false;
        while (true) {
            try {
                T result = call.run();
                if (failing) {
                    log.info("The Prefect API answered again; {} done", what);
                }
                return result;
            } catch (ApiException e) {
                if (!e.isTransient()) {
                    throw e;
                }
                if (!failing) {
                    log.warn("Cannot {} yet ({}); retrying until the Prefect API answers", what, e.getMessage());
                    failing = true;
                }
            }
            for (long slept = 0; slept < backoff; slept += 200) {
                if (stopping.getAsBoolean()) {
                    throw new StoppedWaiting();
                }
                Thread.sleep(200);
            }
            backoff = Math.min(backoff * 2, MAX_BACKOFF.toMillis());
        }
    }

    /**
     * Infrastructure that ended.
     *
     * @param infrastructurePid its id
     * @param failureLog        its output the plugin sent because it failed
     */
    record Ended(String infrastructurePid, List<String> failureLog) {
        Ended {
            failureLog = List.copyOf(failureLog);
        }
    }

    /**
     * Writes what the verdict says; returns once the server answered (or refused for good), with what was carried
     * out: the verdict itself, or {@link Verdict.Superseded} for a crash the run had outgrown.
     *
     * @param ended the infrastructure that ended, or null when none was started
     */
    Verdict report(String flowRunId, Verdict verdict, RunLogger rlog, Ended ended)
            throws InterruptedException, StoppedWaiting {
        try {
            switch (verdict) {
                case Verdict.LeaveToEngine leave -> {
                }
                case Verdict.Superseded superseded -> {
                }
                case Verdict.Crash crash -> {
                    if (ended != null) {
                        Optional<FlowRun> current = persist("read flow run " + flowRunId, () -> prefect.flowRun(flowRunId));
                        forwardFailureLog(flowRunId, current, ended.failureLog(), rlog);
                        if (current.isEmpty() || current.get().isFinal()) {
                            // the server would abort the proposal: a flow that failed often exits non-zero too
                            log.debug("Flow run {} is {}; no crash to report", flowRunId,
                                    current.map(FlowRun::stateType).orElse("deleted"));
                            return verdict;
                        }
                        Optional<String> movedOn = movedOn(current.get(), ended.infrastructurePid());
                        if (movedOn.isPresent()) {
                            rlog.info("Not reporting flow run '" + flowRunId + "' as crashed (" + crash.message()
                                    + "): " + movedOn.get() + ".");
                            return new Verdict.Superseded(movedOn.get());
                        }
                    }
                    Optional<OrchestrationResult> r = persist("report flow run " + flowRunId + " as crashed",
                            () -> prefect.client().setState(flowRunId, "CRASHED", "Crashed", crash.message(), false));
                    if (r.isPresent() && "CRASHED".equals(r.get().stateType())) {
                        rlog.info("Reported flow run '" + flowRunId + "' as crashed: " + crash.message());
                    }
                }
                case Verdict.Cancel cancel -> {
                    Optional<FlowRun> current = persist("read flow run " + flowRunId, () -> prefect.flowRun(flowRunId));
                    if (current.isEmpty() || current.get().isFinal()) {
                        return verdict;
                    }
                    persist("mark flow run " + flowRunId + " cancelled",
                            () -> prefect.client().setState(flowRunId, "CANCELLED", "Cancelled", cancel.message(), true));
                    rlog.info(cancel.message());
                }
            }
        } catch (ApiException e) {
            log.error("Could not report flow run {} ({}): {}", flowRunId, verdict, e.getMessage());
        }
        return verdict;
    }

    /**
     * Sends the failed infrastructure's output to the run's log when the flow never started, as Prefect's observers
     * do: once the engine ran, it shipped that output itself.
     */
    private static void forwardFailureLog(String flowRunId, Optional<FlowRun> run, List<String> lines, RunLogger rlog) {
        if (lines.isEmpty()) {
            return;
        }
        if (run.isPresent() && run.get().started()) {
            log.debug("Flow run {} started, so its engine shipped its output; {} lines of the infrastructure's log "
                    + "not forwarded", flowRunId, lines.size());
            return;
        }
        lines.forEach(rlog::info);
    }

    /**
     * Why a crash of the infrastructure {@code infrastructurePid} no longer concerns {@code run}, if it does not.
     * Prefect's Kubernetes and ECS observers skip scheduled and paused runs for the same reason: an evicted pod
     * whose engine rescheduled the run ({@code PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR=reschedule}) or a
     * suspended flow leaves its run SCHEDULED or PAUSED for a worker to start again, and the server would accept
     * CRASHED from there. A run another attempt has claimed and launched names that attempt's infrastructure.
     */
    static Optional<String> movedOn(FlowRun run, String infrastructurePid) {
        if (run.is("SCHEDULED") || run.is("PAUSED")) {
            return Optional.of("the flow run is " + stateLabel(run) + ", so its engine or a user rescheduled or paused it"
                    + " and a worker will start it again");
        }
        if (run.infrastructurePid() != null && !run.infrastructurePid().equals(infrastructurePid)) {
            return Optional.of("another attempt on " + run.infrastructurePid() + " has taken over the flow run");
        }
        return Optional.empty();
    }

    private static String stateLabel(FlowRun run) {
        return run.stateName() != null ? "'" + run.stateName() + "'" : run.stateType();
    }

    /**
     * Proposes {@code InfrastructurePending} as Prefect's observers do for a pod or task that waits: only while the
     * run is not running, paused, cancelling, final or already InfrastructurePending, so the engine is never
     * fought. One attempt; this state is a courtesy to the user.
     */
    void infrastructurePending(String flowRunId, String detail, RunLogger rlog) throws InterruptedException {
        if (!prefect.client().http().serverVersion().takesNamedPendingStates()) {
            return; // the server would abort it; two requests saved per waiting pod or task
        }
        try {
            Optional<FlowRun> run = prefect.flowRun(flowRunId);
            if (run.isEmpty() || (run.get().stateType() != null && NO_INFRASTRUCTURE_PENDING.contains(run.get().stateType()))
                    || "InfrastructurePending".equals(run.get().stateName())) {
                return;
            }
            prefect.client().setState(flowRunId, "PENDING", "InfrastructurePending", detail, false);
        } catch (ApiException e) {
            rlog.debug("Could not mark the run InfrastructurePending: " + e.getMessage());
        }
    }
}
