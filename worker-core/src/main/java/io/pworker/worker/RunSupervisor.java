package io.pworker.worker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.ApiException;
import io.pworker.api.Deployment;
import io.pworker.api.FlowRun;
import io.pworker.api.WorkPool;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.state.Lease;
import io.pworker.state.RunRecord;
import io.pworker.worker.RunSignal.Control;
import io.pworker.worker.Verdict.StoppedBy;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Supervises one flow run from claim to report, on its own virtual thread, which alone decides everything about
 * the run: whether it is launched, when its infrastructure is stopped, and (through {@link Verdict}) what its end
 * means. Other threads only post signals: the plugin's phases, a CANCELLING notice, the worker stopping. The one
 * exception is a launch in progress, which those notices interrupt.
 *
 * <p>Stages: claiming → preparing → launching → running ({@link InfrastructureWatch}) → reporting → done. A run
 * left behind by an earlier worker process starts in recovering instead ({@link Recovery}), and may join at
 * preparing (claimed, never launched) or running.
 * A supervisor that stops without reporting (the worker stops and the infrastructure outlives it, or the API is
 * down) leaves the run's record in the state directory for the next worker.
 */
final class RunSupervisor {

    private static final Logger log = LoggerFactory.getLogger(RunSupervisor.class);

    /** Where the run is; read by other threads only to know whether a notice must interrupt a launch. */
    enum Stage {
        WAITING, CLAIMING, PREPARING, LAUNCHING, RUNNING, RECOVERING, REPORTING, DONE, LEFT
    }

    private final String flowRunId;
    private final RunServices services;
    private final RunLogger rlog;
    private final BlockingQueue<RunSignal> inbox = new LinkedBlockingQueue<>();
    private final Object stageLock = new Object();
    private volatile Stage stage = Stage.WAITING;
    private volatile Thread owner;

    // Everything below belongs to the owner thread.
    private boolean cancelRequested;
    private boolean stopRequested;
    private Lease lease;
    private RunRecord record;
    private FlowRunInfo info;
    private ObjectNode configuration;
    private RunHandle handle;
    private String submittedEventId;

    RunSupervisor(String flowRunId, RunServices services) {
        this.flowRunId = flowRunId;
        this.services = services;
        this.rlog = new RunLogger(flowRunId, services.logs());
    }

    String flowRunId() {
        return flowRunId;
    }

    /** The run entered CANCELLING. */
    void requestCancel() {
        inbox.add(Control.CANCEL);
        interruptLaunch();
    }

    /** The worker is stopping. */
    void workerStopping() {
        inbox.add(Control.STOP);
        interruptLaunch();
    }

    private void interruptLaunch() {
        synchronized (stageLock) {
            if (stage == Stage.LAUNCHING) {
                owner.interrupt();
            }
        }
    }

    private void enter(Stage next) {
        synchronized (stageLock) {
            stage = next;
            // an interrupt meant for a launch that has just returned must not hit the next API call
            Thread.interrupted();
        }
    }

    // ------------------------------------------------------------------ entry points (owner thread)

    /**
     * A run found by a poll: claim it, launch it, watch it, report it; {@code reads} are the poll's, and the
     * launch waits at the poll's {@code gate} for its other claims.
     */
    void runNew(FlowRun run, WorkPool pool, PollReads reads, ClaimGate gate) {
        owner = Thread.currentThread();
        io.pworker.logging.LogFields.run(flowRunId);
        boolean claimed = false;
        try {
            enter(Stage.CLAIMING);
            Optional<Submission.Claimed> claim;
            try {
                claim = services.submission().claim(run, reads, rlog, this::stopPending);
            } finally {
                gate.answered();
            }
            if (claim.isEmpty()) {
                enter(Stage.DONE);
                return;
            }
            claimed = true;
            services.metrics().runClaimed(services.type());
            // a stop or cancel noticed meanwhile is acted on by the launch, which reports the claimed run
            gate.await(this::stopPending);
            Verdict failed = prepare(run, claim.get().deployment(), pool, true, reads);
            if (failed != null) {
                finish(failed, null);
            } else {
                launch();
            }
        } catch (ApiException e) {
            log.warn("Could not submit flow run {}: {}", flowRunId, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            unexpected(e, claimed);
        } finally {
            closeLease();
        }
    }

    /** A run an earlier worker process left in the state directory; {@code held} is this worker's hold on it. */
    void runRecovered(RunRecord stored, Lease held, WorkPool pool) {
        owner = Thread.currentThread();
        io.pworker.logging.LogFields.run(flowRunId);
        lease = held;
        record = stored;
        try {
            enter(Stage.RECOVERING);
            switch (new Recovery(services, rlog).resume(stored, pool)) {
                case Recovery.Later later -> leave(later.why());
                case Recovery.Forget forget -> {
                    log.info("Flow run {}: {}; nothing to report", flowRunId, forget.why());
                    adopt(forget.handle(), forget.prepared());
                    releaseAndForget();
                }
                case Recovery.Settle settle -> finish(settle.verdict(), null);
                case Recovery.Submit submit -> {
                    Verdict failed = prepare(submit.run(), submit.deployment(), submit.pool(), false,
                            PollReads.direct(services.prefect()));
                    if (failed != null) {
                        finish(failed, null);
                    } else {
                        launch();
                    }
                }
                case Recovery.Ended ended -> {
                    adopt(ended.handle(), ended.prepared());
                    recordAdoption(ended.run());
                    finish(Verdict.of(ended.end(), StoppedBy.NOBODY, true, services.workerName()), ended.end());
                }
                case Recovery.Watch watch -> {
                    adopt(watch.handle(), watch.prepared());
                    recordAdoption(watch.run());
                    log.info("Watching flow run {} again ({})", flowRunId, handle.infrastructurePid());
                    if (watch.cancelling()) {
                        inbox.add(Control.CANCEL);
                    }
                    supervise();
                }
            }
        } catch (RunReporter.StoppedWaiting e) {
            leave(e.getMessage());
        } catch (ApiException e) {
            leave("the Prefect API refused to read it (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            unexpected(e, false);
        } finally {
            closeLease();
        }
    }

    // ------------------------------------------------------------------ submission

    /** Records the claim, builds the configuration and announces the submission; a verdict when that fails. */
    private Verdict prepare(FlowRun run, Deployment deployment, WorkPool pool, boolean fresh, PollReads reads)
            throws InterruptedException {
        enter(Stage.PREPARING);
        try {
            if (fresh) {
                lease = services.store().lease(flowRunId)
                        .orElseThrow(() -> new IOException("another worker process holds its record"));
                record = RunRecord.claimed(services.type(), flowRunId, pool.name(), pool.id(), services.workerName(),
                        services.clock().instant());
                lease.write(record);
            }
            ConfigurationBuilder.PreparedRun prepared = services.configurations().build(run, deployment, pool, reads);
            info = prepared.info();
            configuration = prepared.configuration();
            submittedEventId = services.submission().announce(prepared, pool, rlog);
            return null;
        } catch (IOException e) {
            return submissionFailed(run.name(), "state", "cannot record the flow run in the state directory "
                    + services.store().root() + ": " + e.getMessage());
        } catch (ConfigurationBuilder.SubmissionException e) {
            return submissionFailed(run.name(), "configuration", e.getMessage());
        } catch (ApiException e) {
            return submissionFailed(run.name(), "api", e.getMessage());
        }
    }

    private Verdict submissionFailed(String runName, String cause, String reason) {
        services.metrics().submissionFailed(services.type(), cause);
        rlog.error("Failed to submit flow run '" + (runName != null ? runName : flowRunId) + "' to infrastructure: "
                + reason, null);
        return Verdict.submissionFailed(reason);
    }

    private void launch() throws InterruptedException {
        drainControl();
        if (cancelRequested || stopRequested) {
            finish(cancelRequested ? Verdict.cancelledBeforeLaunch() : Verdict.stoppedBeforeLaunch(services.workerName()), null);
            return;
        }
        try {
            record = record.launching();
            lease.write(record);
        } catch (IOException e) {
            finish(submissionFailed(info.name(), "state", "cannot record the launch in the state directory: " + e.getMessage()), null);
            return;
        }
        RunHandle launched;
        enter(Stage.LAUNCHING);
        try {
            launched = services.launcher().launch(new LaunchRequest(info, configuration.deepCopy(), rlog));
        } catch (LaunchException | InterruptedException e) {
            enter(Stage.REPORTING);
            drainControl();
            // a launcher may answer an interrupt with a LaunchException; the notice behind it is what counts
            Verdict verdict = cancelRequested ? Verdict.cancelledBeforeLaunch()
                    : stopRequested ? Verdict.stoppedBeforeLaunch(services.workerName())
                    : submissionFailed(info.name(), "launch", e.getMessage());
            finish(verdict, null);
            return;
        }
        enter(Stage.RUNNING);
        handle = launched;
        services.metrics().runLaunched(services.type());
        try {
            record = record.launched(handle, services.clock().instant());
            lease.write(record);
        } catch (IOException e) {
            rlog.warn("Could not record the flow run's infrastructure in the state directory (" + e.getMessage()
                    + "); a worker started after a crash of this one will not find it");
        }
        setInfrastructurePid();
        rlog.info("Flow run '" + info.name() + "' submitted to infrastructure");
        supervise();
    }

    private void setInfrastructurePid() throws InterruptedException {
        try {
            services.submission().setInfrastructurePid(flowRunId, handle.infrastructurePid());
        } catch (ApiException e) {
            rlog.warn("An error occurred while setting the infrastructure_pid on flow run '" + flowRunId
                    + "'; the flow run will not be cancellable: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ running

    private void supervise() throws InterruptedException {
        enter(Stage.RUNNING);
        InfrastructureWatch.Ending ending = new InfrastructureWatch(flowRunId, info, services, rlog, handle, configuration, inbox).run();
        if (ending.end() == null) {
            leave("the worker stops and the flow run's infrastructure keeps running; the next worker watches it");
            return;
        }
        finish(Verdict.of(ending.end(), ending.stoppedBy(), false, services.workerName()), ending.end(),
                ending.failureLog());
    }

    // ------------------------------------------------------------------ the end

    private void finish(Verdict verdict, Phase end) throws InterruptedException {
        finish(verdict, end, List.of());
    }

    /**
     * Reports the verdict, then releases the infrastructure and deletes the record.
     *
     * @param failureLog the infrastructure's output its plugin sent because it failed (none for a recovered run)
     */
    private void finish(Verdict verdict, Phase end, List<String> failureLog) throws InterruptedException {
        enter(Stage.REPORTING);
        Verdict done;
        try {
            done = services.reporter().report(flowRunId, verdict, rlog,
                    handle == null ? null : new RunReporter.Ended(handle.infrastructurePid(), failureLog));
        } catch (RunReporter.StoppedWaiting e) {
            leave(e.getMessage() + "; the next worker reports this flow run");
            return;
        }
        services.metrics().runFinished(services.type(), RunMetrics.outcome(done));
        if (handle != null && end != null && info != null) {
            int code = end instanceof Phase.Exited exited ? exited.status().code() : -1;
            services.events().executed(info, handle.infrastructurePid(), code, submittedEventId);
        }
        releaseAndForget();
    }

    private void releaseAndForget() {
        if (handle != null) {
            services.launcher().release(handle, configuration == null ? emptyConfiguration() : configuration.deepCopy());
        }
        if (lease != null) {
            try {
                lease.delete();
            } catch (IOException e) {
                log.warn("Could not delete the record of flow run {} from the state directory: {}", flowRunId,
                        e.getMessage());
            }
            lease = null;
        }
        enter(Stage.DONE);
    }

    /** Stops supervising without a report; the record stays for the next worker. */
    private void leave(String why) {
        log.info("Leaving flow run {}: {}", flowRunId, why);
        closeLease();
        enter(Stage.LEFT);
    }

    private void closeLease() {
        if (lease != null) {
            lease.close();
            lease = null;
        }
    }

    private void adopt(RunHandle found, ConfigurationBuilder.PreparedRun prepared) {
        handle = found;
        if (prepared != null) {
            info = prepared.info();
            configuration = prepared.configuration();
        }
    }

    /** A recovered handle becomes this worker's: recorded as launched, and written to the run if it never was. */
    private void recordAdoption(FlowRun run) throws InterruptedException {
        if (record.stage() != RunRecord.Stage.LAUNCHED) {
            try {
                record = record.launched(handle, services.clock().instant());
                lease.write(record);
            } catch (IOException e) {
                log.warn("Could not record flow run {} in the state directory: {}", flowRunId, e.getMessage());
            }
        }
        if (run.infrastructurePid() == null) {
            setInfrastructurePid();
        }
    }

    private static ObjectNode emptyConfiguration() {
        return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    }

    // ------------------------------------------------------------------ signals before the watch

    /** Takes the notices that arrived so far; only CANCEL and STOP can be waiting before the watch starts. */
    private void drainControl() {
        RunSignal s;
        while ((s = inbox.poll()) != null) {
            if (s == Control.CANCEL) {
                cancelRequested = true;
            } else if (s == Control.STOP) {
                stopRequested = true;
            }
        }
    }

    private boolean stopPending() {
        drainControl();
        return stopRequested;
    }

    /** A bug in the core: say so, and never leave a claimed run PENDING without a word. */
    private void unexpected(RuntimeException e, boolean claimed) {
        log.error("Unexpected error while supervising flow run {}", flowRunId, e);
        if (claimed && handle == null && lease == null) {
            try {
                services.reporter().report(flowRunId, Verdict.submissionFailed("internal error in pworker: " + e), rlog, null);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            } catch (RunReporter.StoppedWaiting stopped) {
                // the worker is stopping and the API is down: nobody can be told now
            }
        }
    }
}
