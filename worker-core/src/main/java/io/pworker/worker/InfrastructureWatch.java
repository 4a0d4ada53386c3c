package io.pworker.worker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.worker.RunSignal.Control;
import io.pworker.worker.Verdict.StoppedBy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running stage of one supervised run, on the supervisor's thread: turns the plugin's phases into run logs
 * and {@code InfrastructurePending}, and the CANCELLING and stop notices into at most one kill, until the
 * infrastructure ends. The only place that starts a kill.
 */
final class InfrastructureWatch {

    private static final Logger log = LoggerFactory.getLogger(InfrastructureWatch.class);
    /** After a kill, how long the watch has to report the end before the plugin is asked directly. */
    private static final Duration AFTER_KILL = Duration.ofSeconds(30);
    /** Prefect links an event to the one before it only when they are this close (worker-spec §5.1). */
    private static final Duration FOLLOWS_WINDOW = Duration.ofMinutes(5);

    /**
     * How the infrastructure ended and whether the worker stopped it; {@code end} is null when the worker stops and
     * leaves infrastructure that outlives it running.
     */
    record Ending(Phase end, StoppedBy stoppedBy, List<String> failureLog) {
        Ending {
            failureLog = List.copyOf(failureLog);
        }
    }

    /** Plugins bound their tails (200 to 500 lines); this only keeps a misbehaving one from filling the heap. */
    private static final int FAILURE_LOG_LINES = 1000;

    private final String flowRunId;
    private final FlowRunInfo info;
    private final RunServices services;
    private final RunLogger rlog;
    private final RunHandle handle;
    private final ObjectNode configuration;
    private final BlockingQueue<RunSignal> inbox;
    private StoppedBy stoppedBy = StoppedBy.NOBODY;
    private Instant killDeadline;
    private boolean pendingSeen;
    private String pendingDetail;
    private boolean warnedNotKillable;
    private final Events events = new Events();
    /** The infrastructure's output sent because it failed; written by the plugin's threads, read at the end. */
    private final List<String> failureLog = new ArrayList<>(); // guarded by itself

    /** @param info the run's identity for the related resources of events, or null when it could not be read */
    InfrastructureWatch(String flowRunId, FlowRunInfo info, RunServices services, RunLogger rlog, RunHandle handle,
            ObjectNode configuration, BlockingQueue<RunSignal> inbox) {
        this.flowRunId = flowRunId;
        this.info = info != null ? info
                : new FlowRunInfo(flowRunId, null, null, null, null, null, null, null, services.workerName(), List.of());
        this.services = services;
        this.rlog = rlog;
        this.handle = handle;
        this.configuration = configuration;
        this.inbox = inbox;
    }

    /** Watches until the end; the plugin's watch is closed when this returns. */
    Ending run() throws InterruptedException {
        io.pworker.spi.Watch watch;
        try {
            watch = services.launcher().watch(handle, configuration.deepCopy(), new io.pworker.spi.PhaseSink() {
                @Override
                public void report(Phase phase) {
                    inbox.add(new RunSignal.PhaseSeen(phase));
                }

                @Override
                public void log(String message) {
                    rlog.info(message);
                }

                @Override
                public void failureLog(String line) {
                    synchronized (failureLog) {
                        if (failureLog.size() < FAILURE_LOG_LINES) {
                            failureLog.add(line);
                        }
                    }
                }

                @Override
                public void event(InfrastructureEvent event) {
                    events.send(event);
                }
            });
        } catch (InfrastructureException e) {
            return new Ending(new Phase.Gone("The worker lost track of the flow run's infrastructure: "
                    + e.getMessage()), stoppedBy, List.of());
        }
        try {
            Phase end = awaitEnd();
            synchronized (failureLog) {
                return new Ending(end, stoppedBy, failureLog);
            }
        } finally {
            watch.close();
            events.close();
        }
    }

    /**
     * The plugin's events, sent from whichever thread the plugin reports on. Remembers the last event of each
     * resource so the next one {@code follows} it, as Prefect's observers chain a pod's phases.
     */
    private final class Events {
        private record Last(String id, Instant occurred) {
        }

        private final Map<String, Last> last = new HashMap<>();
        private boolean closed;

        synchronized void send(InfrastructureEvent event) {
            if (closed || event == null) {
                return;
            }
            Instant occurred = event.occurred() != null ? event.occurred() : services.clock().instant();
            Last before = last.get(event.resourceId());
            String follows = before != null
                    && Duration.between(before.occurred(), occurred).abs().compareTo(FOLLOWS_WINDOW) <= 0
                    ? before.id() : null;
            String id = services.events().infrastructure(info,
                    new InfrastructureEvent(event.name(), event.resourceId(), event.labels(), occurred, event.id()),
                    follows);
            last.put(event.resourceId(), new Last(id, occurred));
        }

        synchronized void close() {
            closed = true;
        }
    }

    private Phase awaitEnd() throws InterruptedException {
        while (true) {
            RunSignal signal;
            if (killDeadline == null) {
                signal = inbox.take();
            } else {
                long left = Duration.between(services.clock().instant(), killDeadline).toMillis();
                signal = inbox.poll(Math.max(0, left), TimeUnit.MILLISECONDS);
                if (signal == null) {
                    return endAfterKill();
                }
            }
            if (signal instanceof RunSignal.PhaseSeen seen) {
                if (seen.phase().terminal()) {
                    return seen.phase();
                }
                if (seen.phase() instanceof Phase.Pending pending) {
                    pending(pending.detail());
                }
                // Running: nothing to write, the engine reports RUNNING itself
                continue;
            }
            if (signal == Control.STOP
                    && (services.capabilities().outlivesWorker() || !services.capabilities().killable())) {
                return null;
            }
            Phase end = signal == Control.CANCEL ? onCancel() : stop(StoppedBy.SHUTDOWN);
            if (end != null) {
                return end;
            }
        }
    }

    private Phase onCancel() throws InterruptedException {
        if (!services.capabilities().killable()) {
            if (!warnedNotKillable) {
                rlog.warn("Worker type '" + services.type() + "' cannot stop infrastructure; the cancellation is left "
                        + "to the flow run's engine");
                warnedNotKillable = true;
            }
            return null;
        }
        if (stoppedBy == StoppedBy.NOBODY) {
            log.info("Flow run {} is cancelling; stopping its infrastructure", flowRunId);
        }
        return stop(StoppedBy.CANCELLATION);
    }

    /** Kills the infrastructure once; returns the end when the kill shows it is already gone. */
    private Phase stop(StoppedBy why) throws InterruptedException {
        if (stoppedBy != StoppedBy.NOBODY) {
            return null;
        }
        stoppedBy = why;
        KillOutcome outcome;
        try {
            outcome = services.launcher().kill(handle, configuration.deepCopy(), services.killGrace());
        } catch (InfrastructureException e) {
            rlog.error("Failed to stop the flow run's infrastructure " + handle.infrastructurePid() + ": "
                    + e.getMessage(), null);
            stoppedBy = StoppedBy.NOBODY;
            return null;
        }
        switch (outcome) {
            case NOT_AVAILABLE -> {
                // another worker, closer to the infrastructure, may succeed; a later notice tries again
                rlog.warn("Cannot stop the flow run's infrastructure " + handle.infrastructurePid()
                        + ": it is not reachable from this worker");
                stoppedBy = StoppedBy.NOBODY;
                return null;
            }
            case NOT_FOUND -> {
                return new Phase.Gone("The flow run's infrastructure was not found when the worker went to stop it.");
            }
            default -> {
                log.info("Stopped the infrastructure of flow run {} ({})", flowRunId, handle.infrastructurePid());
                killDeadline = services.clock().instant().plus(AFTER_KILL);
                return null;
            }
        }
    }

    /** The watch said nothing after a kill: ask the plugin once, then give up on it. */
    private Phase endAfterKill() throws InterruptedException {
        try {
            Phase phase = services.launcher().recover(handle, configuration.deepCopy());
            if (phase.terminal()) {
                return phase;
            }
        } catch (InfrastructureException e) {
            log.warn("Cannot look at the infrastructure of flow run {}: {}", flowRunId, e.getMessage());
        }
        return new Phase.Gone("The flow run's infrastructure did not report an end within " + AFTER_KILL.toSeconds()
                + " s of being stopped by the worker.");
    }

    /** Logs the detail once per change and proposes InfrastructurePending where Prefect would. */
    private void pending(String detail) throws InterruptedException {
        if (pendingSeen && Objects.equals(detail, pendingDetail)) {
            return;
        }
        pendingSeen = true;
        pendingDetail = detail;
        if (detail != null) {
            rlog.info(detail);
        }
        services.reporter().infrastructurePending(flowRunId, detail, rlog);
    }
}
