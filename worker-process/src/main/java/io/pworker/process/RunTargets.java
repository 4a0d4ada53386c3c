package io.pworker.process;

import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Turns handles into {@link RunTarget}s and says what phase a target is in. The handle's state carries the pid,
 * the start time, the boot and the flow-run id; a handle rebuilt from the pid alone is matched to a launch record
 * by its pid, on a best-effort basis.
 */
final class RunTargets {

    static final String PID = "pid";
    static final String START_TICKS = "startTicks";
    static final String BOOT_ID = "bootId";
    static final String FLOW_RUN_ID = "flowRunId";

    private final LaunchRecords records;
    private final Map<Long, Child> children;
    private final String bootId;

    RunTargets(LaunchRecords records, Map<Long, Child> children, String bootId) {
        this.records = records;
        this.children = children;
        this.bootId = bootId;
    }

    String bootId() {
        return bootId;
    }

    /** The handle the core keeps for a process: the pid as Prefect's {@code infrastructure_pid}, the rest in state. */
    static RunHandle handle(String flowRunId, ProcessIdentity identity) {
        Map<String, String> state = new HashMap<>();
        state.put(PID, Long.toString(identity.pid()));
        state.put(FLOW_RUN_ID, flowRunId);
        if (identity.startTicks() != null) {
            state.put(START_TICKS, Long.toString(identity.startTicks()));
        }
        if (identity.bootId() != null) {
            state.put(BOOT_ID, identity.bootId());
        }
        return new RunHandle(Long.toString(identity.pid()), state);
    }

    RunTarget resolve(RunHandle handle) {
        long pid = pid(handle);
        Map<String, String> state = handle.state();
        String runId = state.get(FLOW_RUN_ID);
        ProcessIdentity fromHandle = identityIn(pid, state);
        Optional<LaunchRecord> record = (runId != null ? records.read(runId) : recordOfPid(pid))
                .filter(r -> sameProcess(r.identity(), fromHandle));
        ProcessIdentity identity = fromHandle.exact() ? fromHandle
                : record.map(LaunchRecord::identity).orElse(fromHandle);
        Child child = children.get(pid);
        if (child != null && !sameProcess(child.identity(), identity)) {
            child = null;
        }
        if (runId == null) {
            runId = record.map(LaunchRecord::flowRunId).orElse(child == null ? null : child.flowRunId());
        }
        return new RunTarget(identity, runId, record.orElse(null), child);
    }

    RunTarget resolve(LaunchRecord record) {
        Child child = children.get(record.identity().pid());
        if (child != null && !sameProcess(child.identity(), record.identity())) {
            child = null;
        }
        return new RunTarget(record.identity(), record.flowRunId(), record, child);
    }

    /** What the process is doing now. */
    Phase phase(RunTarget t) {
        return t.running(bootId) ? new Phase.Running() : ended(t);
    }

    /** How a process that is no longer running ended, as far as can be known. */
    Phase ended(RunTarget t) {
        Optional<LaunchRecord> now = t.flowRunId() == null ? Optional.empty() : records.read(t.flowRunId());
        boolean killRequested = now.map(LaunchRecord::killRequested).orElse(false);
        boolean killSent = now.map(LaunchRecord::killSent).orElse(false);
        if (t.child() != null) {
            killRequested |= t.child().killRequested().get();
            killSent |= t.child().killSent().get();
            if (t.child().parented()) {
                return new Phase.Exited(ExitStatus.of(ExitWrapper.reportedCode(t.child().process().exitValue(),
                        killRequested)));
            }
        }
        OptionalInt recorded = t.record() == null && t.child() == null ? OptionalInt.empty()
                : records.exitCode(t.flowRunId());
        if (recorded.isPresent()) {
            return new Phase.Exited(ExitStatus.of(ExitWrapper.reportedCode(recorded.getAsInt(), killRequested)));
        }
        if (killRequested && killSent && !t.identity().reused(bootId)) {
            // the worker's SIGKILL to the group ends the wrapper before it can write a code; that is what a parent
            // would have seen (128+9), unless the process ended by itself in the instant before the signal
            return new Phase.Exited(ExitStatus.of(ExitWrapper.reportedCode(128 + 9, true)));
        }
        return new Phase.Gone("The flow run's process " + t.pid() + " ended while the worker was not watching it; "
                + "its exit code is unknown (" + whyUnknown(t) + ").");
    }

    private String whyUnknown(RunTarget t) {
        if (t.identity().reused(bootId)) {
            return "the pid now belongs to another process";
        }
        if (t.record() == null) {
            return "the worker has no record of launching it";
        }
        if (!t.record().recordsExitCode()) {
            return "it was started without the exit-code wrapper, as the machine has no /bin/sh or setsid";
        }
        return "it was killed before it could record one, e.g. by SIGKILL";
    }

    private static ProcessIdentity identityIn(long pid, Map<String, String> state) {
        try {
            return state.containsKey(START_TICKS)
                    ? new ProcessIdentity(pid, Long.parseLong(state.get(START_TICKS)), state.get(BOOT_ID))
                    : ProcessIdentity.pidOnly(pid);
        } catch (NumberFormatException e) {
            return ProcessIdentity.pidOnly(pid);
        }
    }

    /** The launch record of the process that has the pid now, else of any process that had it. */
    private Optional<LaunchRecord> recordOfPid(long pid) {
        List<LaunchRecord> withPid = records.all().stream().filter(r -> r.identity().pid() == pid).toList();
        return withPid.stream().filter(r -> r.identity().current(bootId).isPresent()).findFirst()
                .or(() -> withPid.stream().findFirst());
    }

    /** False only when both sides know the start time (or boot) and they differ: then they are two processes. */
    private static boolean sameProcess(ProcessIdentity a, ProcessIdentity b) {
        if (a.pid() != b.pid()) {
            return false;
        }
        if (a.startTicks() != null && b.startTicks() != null && !a.startTicks().equals(b.startTicks())) {
            return false;
        }
        return a.bootId() == null || b.bootId() == null || a.bootId().equals(b.bootId());
    }

    static long pid(RunHandle handle) {
        String pid = handle.infrastructurePid();
        try {
            // older Prefect releases wrote "<hostname>:<pid>"
            return Long.parseLong(pid.substring(pid.lastIndexOf(':') + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a process infrastructure_pid: " + pid);
        }
    }
}
