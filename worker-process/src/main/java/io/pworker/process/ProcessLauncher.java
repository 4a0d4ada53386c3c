package io.pworker.process;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.FlowRunInfo;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Launches flow runs as local processes, each in its own process group under the {@link ExitWrapper}, and finds
 * them again after a worker restart through the {@link LaunchRecords} in the plugin's state directory.
 *
 * <p>Two kinds of process come through here: children, which this launcher started and whose exit code the JDK
 * collects, and the others, whose end the {@link ExitPoller} notices and whose exit code only the wrapper's file
 * can tell. The others are those started by an earlier worker process, those named by a handle alone, and, where
 * the wrapper {@linkplain ExitWrapper#detaches() detaches}, every run this launcher starts: then the worker holds
 * no process (and the JDK no thread) per run. The output of both kinds goes to a file that the
 * {@link OutputFollower} copies to the console, so that no run depends on this worker process staying alive.
 */
final class ProcessLauncher implements InfrastructureLauncher {

    private static final Duration POLL_INTERVAL = Duration.ofMillis(500);
    /** How often the output files of {@code stream_output} runs are read. */
    private static final Duration FOLLOW_INTERVAL = Duration.ofMillis(200);
    /** How often at most a run's output position is saved: what a crash of the worker may print twice. */
    private static final Duration SAVE_OUTPUT_POSITION = Duration.ofSeconds(2);
    /** A run's output file is emptied once it is larger than this and all of it was copied. */
    static final long OUTPUT_FILE_LIMIT = 8L * 1024 * 1024;
    /** How long the report of a run's end waits for the last of its output to be copied. */
    private static final Duration OUTPUT_DRAIN = Duration.ofSeconds(5);
    private static final Duration OUTPUT_STOP = Duration.ofSeconds(2);

    private final Map<String, String> environment;
    private final ExitWrapper wrapper;
    private final LaunchRecords records;
    private final ProcessStarter starter;
    private final RunTargets targets;
    private final ExitPoller poller;
    private final OutputFollower follower;
    private final GroupSignals signals = new GroupSignals();
    private final Map<Long, Child> children = new ConcurrentHashMap<>();
    private final Set<AtomicBoolean> openWatches = ConcurrentHashMap.newKeySet();
    /** One launch at a time, so that two launches of the same run cannot both miss each other's record. */
    private final ReentrantLock launching = new ReentrantLock();
    /** Where a run's end is reported: off the JDK's reaper thread and the follower's, since the core's report works. */
    private final Executor reporting = r -> Thread.ofVirtual().name("pworker-process-exit").start(r);

    ProcessLauncher(PluginContext context, ExitWrapper wrapper) throws InfrastructureException {
        this(context, wrapper, OUTPUT_FILE_LIMIT);
    }

    /** @param outputFileLimit see {@link #OUTPUT_FILE_LIMIT}; tests use a small one */
    ProcessLauncher(PluginContext context, ExitWrapper wrapper, long outputFileLimit) throws InfrastructureException {
        this.environment = context.environment();
        this.wrapper = wrapper;
        try {
            this.records = new LaunchRecords(context.stateDirectory());
        } catch (IOException e) {
            throw new InfrastructureException("cannot use the state directory " + context.stateDirectory() + ": " + e, e);
        }
        String bootId = ProcStat.bootId();
        this.starter = new ProcessStarter(wrapper, bootId);
        this.targets = new RunTargets(records, children, bootId);
        this.poller = new ExitPoller(POLL_INTERVAL, bootId);
        this.follower = new OutputFollower(context.console(), FOLLOW_INTERVAL, SAVE_OUTPUT_POSITION, outputFileLimit,
                this::saveOutputPosition);
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        ProcessSpec spec = ProcessSpec.prepare(ProcessJobConfiguration.from(request.configuration()), environment);
        String runId = request.run().id();
        launching.lockInterruptibly();
        try {
            Optional<RunHandle> adopted = adoptEarlierLaunch(request);
            if (adopted.isPresent()) {
                return adopted.get();
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("the launch of flow run " + runId + " was cancelled");
            }
            records.forgetOutcome(runId);
            return start(request, spec);
        } finally {
            launching.unlock();
        }
    }

    /**
     * The handle of a process an earlier launch of the run started and that still runs; empty, with what is left
     * of an earlier launch removed, when a new process is to be started.
     */
    private Optional<RunHandle> adoptEarlierLaunch(LaunchRequest request) {
        String runId = request.run().id();
        Optional<LaunchRecord> earlier = records.readAny(runId);
        if (earlier.isEmpty()) {
            return Optional.empty();
        }
        LaunchRecord r = earlier.get();
        Optional<ProcessIdentity> running;
        if (r.starting()) {
            running = findStarted(r);
            running.ifPresent(identity -> {
                try {
                    records.write(r.started(identity));
                } catch (IOException e) {
                    request.log().warn("Cannot complete the launch record of flow run '" + runId + "' (" + e
                            + "); after another restart its exit code will be unknown");
                }
            });
        } else {
            RunTarget t = targets.resolve(r);
            // adopt only what is surely that process: a pid without a start time may have been reused
            running = (t.identity().exact() || t.child() != null) && t.running(targets.bootId())
                    ? Optional.of(t.identity()) : Optional.empty();
        }
        if (running.isEmpty()) {
            // it never started, or it ended and was never released: this launch is a new attempt at the run
            ProcessStarter.deleteTree(pathOrNull(r.tempDir()));
            records.forget(runId);
            return Optional.empty();
        }
        request.log().info("Flow run '" + runId + "' already has process " + running.get().pid() + " from an "
                + "earlier launch; the worker watches that one instead of starting another");
        followOutput(r);
        return Optional.of(RunTargets.handle(runId, running.get()));
    }

    /**
     * The process of a launch cut short: a worker crashed between writing the record and noting the pid, and the
     * process may run all the same. Only a wrapped command can be recognised, by its exit file.
     */
    private Optional<ProcessIdentity> findStarted(LaunchRecord r) {
        if (!r.recordsExitCode()) {
            return Optional.empty();
        }
        return ExitWrapper.findRunning(records.exitFile(r.flowRunId()))
                .map(pid -> ProcessIdentity.observe(pid, targets.bootId())).filter(ProcessIdentity::exact);
    }

    /**
     * Starts the run's process. The launch record is written first, without a pid, so that a worker that crashes
     * before it can note the pid leaves enough behind for the next launch to find the process instead of
     * starting a second one ({@link #adoptEarlierLaunch}).
     */
    private RunHandle start(LaunchRequest request, ProcessSpec spec) throws LaunchException, InterruptedException {
        FlowRunInfo run = request.run();
        String runId = run.id();
        Path tempDir = ProcessStarter.temporaryDirectory(run, spec);
        LaunchRecord record = new LaunchRecord(runId, null, wrapper.recordsExitCodes(), Objects.toString(tempDir, null),
                run.workerName(), run.workPoolId(), run.workPoolName(), false, spec.streamOutput() ? spec.name() : null,
                0);
        try {
            records.write(record);
        } catch (IOException e) {
            ProcessStarter.deleteTree(tempDir);
            throw unrecorded(e);
        }
        Child child;
        try {
            child = starter.start(run, spec, tempDir, records.exitFile(runId),
                    record.streamsOutput() ? records.outputFile(runId) : null);
        } catch (LaunchException e) {
            ProcessStarter.deleteTree(tempDir);
            records.forget(runId);
            throw e;
        }
        children.put(child.identity().pid(), child);
        try {
            records.write(record.started(child.identity()));
        } catch (IOException e) {
            undo(child);
            throw unrecorded(e);
        }
        if (Thread.interrupted()) {
            undo(child);
            throw new InterruptedException("the launch of flow run " + runId + " was cancelled");
        }
        followOutput(record);
        return RunTargets.handle(runId, child.identity());
    }

    private static LaunchException unrecorded(IOException e) {
        return new LaunchException("cannot record the launch in the state directory, without which the worker could "
                + "not find the process again after a restart: " + e, e);
    }

    /** Takes back a launch that must not stand: nothing of it stays running or on disk. */
    private void undo(Child child) {
        child.killRequested().set(true);
        RunTarget t = new RunTarget(child.identity(), child.flowRunId(), records.read(child.flowRunId()).orElse(null),
                child);
        try {
            stop(t, Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (InfrastructureException e) {
            // stop already sent SIGKILL to the group; nothing more can be done
        } finally {
            follower.stop(child.flowRunId());
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
        // a run found again after a restart is copied on from where the earlier worker stopped (a child of this
        // launcher has been followed since its launch)
        boolean output = t.record() != null && followOutput(t.record());
        Runnable forget = () -> {
        };
        if (t.child() != null && t.child().parented()) {
            if (t.child().process().isAlive()) {
                guarded.report(new Phase.Running());
            }
            t.child().process().onExit().thenRunAsync(() -> reportEnd(t, output, guarded), reporting);
        } else if (t.running(targets.bootId())) {
            guarded.report(new Phase.Running());
            forget = poller.watch(t.identity(), () -> reportEnd(t, output, guarded));
        } else {
            reportEnd(t, output, guarded);
        }
        Runnable unwatch = forget;
        return () -> {
            open.set(false);
            openWatches.remove(open);
            unwatch.run();
        };
    }

    /** Reports how the run ended, after the rest of its output has been copied (or a while later at most). */
    private void reportEnd(RunTarget t, boolean output, PhaseSink sink) {
        if (!output) {
            sink.report(targets.ended(t));
            return;
        }
        follower.finish(t.flowRunId()).completeOnTimeout(null, OUTPUT_DRAIN.toMillis(), TimeUnit.MILLISECONDS)
                .thenRunAsync(() -> sink.report(targets.ended(t)), reporting);
    }

    /** Copies the run's output to the console, if it has any; does nothing more when it is followed already. */
    private boolean followOutput(LaunchRecord r) {
        if (!r.streamsOutput()) {
            return false;
        }
        follower.follow(r.flowRunId(), records.outputFile(r.flowRunId()), "[" + r.outputName() + "] ",
                r.outputPosition());
        return true;
    }

    private void saveOutputPosition(String flowRunId, long position) {
        try {
            records.saveOutputPosition(flowRunId, position);
        } catch (IOException e) {
            // then a worker that starts after a crash copies a little more of the output again
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
        new GroupStop(t, wrapper, signals, targets.bootId(), () -> markKillSent(t)).run(grace);
    }

    /** Remembers, for the exit report, that the worker sent SIGKILL, which leaves no exit file behind. */
    private void markKillSent(RunTarget t) {
        if (t.child() != null) {
            t.child().killSent().set(true);
        }
        if (t.flowRunId() != null) {
            try {
                records.markKillSent(t.flowRunId());
            } catch (IOException e) {
                // then a detached run's end after SIGKILL is reported with its exit code unknown
            }
        }
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
    public List<Discovered> discover(InfrastructureScope scope) throws InterruptedException {
        noteLaunchesCutShort(scope);
        return records.all().stream().filter(r -> inScope(r, scope)).map(r -> {
            RunTarget t = targets.resolve(r);
            return new Discovered(r.flowRunId(), RunTargets.handle(r.flowRunId(), r.identity()), targets.phase(t));
        }).toList();
    }

    /**
     * Completes the records of launches cut short whose process runs, so that the core finds those runs as
     * orphans. Under the launch lock, so that a launch in progress is not taken for one cut short. A record whose
     * process is not found stays for the next launch of the run to clear.
     */
    private void noteLaunchesCutShort(InfrastructureScope scope) throws InterruptedException {
        launching.lockInterruptibly();
        try {
            for (LaunchRecord r : records.allStarting()) {
                if (inScope(r, scope)) {
                    Optional<ProcessIdentity> running = findStarted(r);
                    if (running.isPresent()) {
                        records.write(r.started(running.get()));
                    }
                }
            }
        } catch (IOException e) {
            // listed at the next discover
        } finally {
            launching.unlock();
        }
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
        if (t.flowRunId() != null) {
            // no more copying from a file about to be removed
            follower.stop(t.flowRunId()).completeOnTimeout(null, OUTPUT_STOP.toMillis(), TimeUnit.MILLISECONDS).join();
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
        follower.close();
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
