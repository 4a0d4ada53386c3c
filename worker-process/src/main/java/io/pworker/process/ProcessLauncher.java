package io.pworker.process;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Launches flow runs as local processes, each in its own process group under the {@link ExitWrapper}, and finds
 * them again after a worker restart through the {@link LaunchRecords} in the plugin's state directory.
 *
 * <p>Two kinds of process come through here: children, which this launcher started and whose exit code the JDK
 * collects, and the others (started by an earlier worker process, or named by a handle alone), whose end the
 * {@link ExitPoller} notices and whose exit code only the wrapper's file can tell.
 */
final class ProcessLauncher implements InfrastructureLauncher {

    private static final Duration POLL_INTERVAL = Duration.ofMillis(500);
    private static final Duration OUTPUT_DRAIN = Duration.ofSeconds(2);

    private final Map<String, String> environment;
    private final ExitWrapper wrapper;
    private final LaunchRecords records;
    private final ProcessStarter starter;
    private final RunTargets targets;
    private final ExitPoller poller;
    private final GroupSignals signals = new GroupSignals();
    private final Map<Long, Child> children = new ConcurrentHashMap<>();
    private final Set<AtomicBoolean> openWatches = ConcurrentHashMap.newKeySet();
    /** One launch at a time, so that two launches of the same run cannot both miss each other's record. */
    private final ReentrantLock launching = new ReentrantLock();
    /** Where a child's exit is reported: off the JDK's reaper thread, since the report waits for output to drain. */
    private final Executor reporting = r -> Thread.ofVirtual().name("pworker-process-exit").start(r);

    ProcessLauncher(PluginContext context, ExitWrapper wrapper) throws InfrastructureException {
        this.environment = context.environment();
        this.wrapper = wrapper;
        try {
            this.records = new LaunchRecords(context.stateDirectory());
        } catch (IOException e) {
            throw new InfrastructureException("cannot use the state directory " + context.stateDirectory() + ": " + e, e);
        }
        String bootId = ProcStat.bootId();
        this.starter = new ProcessStarter(wrapper, context.console(), bootId);
        this.targets = new RunTargets(records, children, bootId);
        this.poller = new ExitPoller(POLL_INTERVAL, bootId);
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        ProcessSpec spec = ProcessSpec.prepare(ProcessJobConfiguration.from(request.configuration()), environment);
        String runId = request.run().id();
        launching.lockInterruptibly();
        try {
            Optional<LaunchRecord> earlier = records.read(runId);
            if (earlier.isPresent()) {
                RunTarget t = targets.resolve(earlier.get());
                // adopt only what is surely that process: a pid without a start time may have been reused
                if ((t.identity().exact() || t.child() != null) && t.running(targets.bootId())) {
                    request.log().info("Flow run '" + runId + "' already has process " + t.pid() + " from an earlier "
                            + "launch; the worker watches that one instead of starting another");
                    return RunTargets.handle(runId, t.identity());
                }
                // it ended and was never released: this launch is a new attempt at the run
                ProcessStarter.deleteTree(pathOrNull(earlier.get().tempDir()));
                records.forget(runId);
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("the launch of flow run " + runId + " was cancelled");
            }
            records.forgetExitCode(runId);
            Child child = starter.start(request.run(), spec, records.exitFile(runId));
            children.put(child.identity().pid(), child);
            try {
                records.write(new LaunchRecord(runId, child.identity(), wrapper.recordsExitCodes(),
                        Objects.toString(child.tempDir(), null), request.run().workerName(),
                        request.run().workPoolId(), request.run().workPoolName(), false));
            } catch (IOException e) {
                undo(child);
                throw new LaunchException("cannot record the launch in the state directory, without which the worker "
                        + "could not find the process again after a restart: " + e, e);
            }
            if (Thread.interrupted()) {
                undo(child);
                throw new InterruptedException("the launch of flow run " + runId + " was cancelled");
            }
            return RunTargets.handle(runId, child.identity());
        } finally {
            launching.unlock();
        }
    }

    /** Takes back a launch that must not stand: nothing of it stays running or on disk. */
    private void undo(Child child) {
        child.killRequested().set(true);
        RunTarget t = new RunTarget(child.identity(), child.flowRunId(), null, child);
        try {
            stop(t, Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (InfrastructureException e) {
            // stop already sent SIGKILL to the group; nothing more can be done
        } finally {
            children.remove(child.identity().pid(), child);
            ProcessStarter.deleteTree(child.tempDir());
            records.forget(child.flowRunId());
        }
    }

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        RunTarget t = resolve(handle);
        AtomicBoolean open = new AtomicBoolean(true);
        PhaseSink guarded = phase -> {
            if (open.get()) {
                sink.report(phase);
            }
        };
        openWatches.add(open);
        Runnable forget = () -> {
        };
        if (t.child() != null) {
            if (t.child().process().isAlive()) {
                guarded.report(new Phase.Running());
            }
            t.child().process().onExit().thenRunAsync(() -> {
                drainOutput(t.child());
                guarded.report(targets.ended(t));
            }, reporting);
        } else if (t.running(targets.bootId())) {
            guarded.report(new Phase.Running());
            forget = poller.watch(t.identity(), () -> guarded.report(targets.ended(t)));
        } else {
            guarded.report(targets.ended(t));
        }
        Runnable unwatch = forget;
        return () -> {
            open.set(false);
            openWatches.remove(open);
            unwatch.run();
        };
    }

    private static void drainOutput(Child child) {
        if (child.pump() != null) {
            try {
                child.pump().join(OUTPUT_DRAIN);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException {
        return targets.phase(resolve(handle));
    }

    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
            throws InfrastructureException, InterruptedException {
        RunTarget t = resolve(handle);
        if (!t.running(targets.bootId())) {
            return KillOutcome.NOT_FOUND;
        }
        markKillRequested(t);
        stop(t, grace);
        return KillOutcome.KILLED;
    }

    private void stop(RunTarget t, Duration grace) throws InfrastructureException, InterruptedException {
        new GroupStop(t, wrapper, signals, targets.bootId()).run(grace);
    }

    /** Remembers, for the exit report, that the worker asked the process to stop; survives a worker restart. */
    private void markKillRequested(RunTarget t) {
        if (t.child() != null) {
            t.child().killRequested().set(true);
        }
        if (t.record() != null) {
            try {
                records.markKillRequested(t.flowRunId());
            } catch (IOException e) {
                // then a signal death seen after a restart is reported as 128+N rather than -N
            }
        }
    }

    @Override
    public List<Discovered> discover(InfrastructureScope scope) {
        return records.all().stream().filter(r -> inScope(r, scope)).map(r -> {
            RunTarget t = targets.resolve(r);
            return new Discovered(r.flowRunId(), RunTargets.handle(r.flowRunId(), r.identity()), targets.phase(t));
        }).toList();
    }

    private static boolean inScope(LaunchRecord r, InfrastructureScope scope) {
        boolean pool = r.workPoolId() != null ? r.workPoolId().equals(scope.workPoolId())
                : r.workPoolName() != null && r.workPoolName().equals(scope.workPoolName());
        return pool && (scope.workerName() == null || scope.workerName().equals(r.workerName()));
    }

    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        RunTarget t;
        try {
            t = resolve(handle);
        } catch (InfrastructureException e) {
            return;
        }
        if (t.child() != null) {
            children.remove(t.pid(), t.child());
            ProcessStarter.deleteTree(t.child().tempDir());
        }
        if (t.record() != null) {
            ProcessStarter.deleteTree(pathOrNull(t.record().tempDir()));
            records.forget(t.flowRunId());
        }
    }

    @Override
    public void close() {
        poller.close();
        openWatches.forEach(open -> open.set(false));
        openWatches.clear();
    }

    private RunTarget resolve(RunHandle handle) throws InfrastructureException {
        try {
            return targets.resolve(handle);
        } catch (IllegalArgumentException e) {
            throw new InfrastructureException(e.getMessage(), e);
        }
    }

    private static Path pathOrNull(String path) {
        return path == null ? null : Path.of(path);
    }
}
