package io.pworker.process;

import java.util.Optional;

/**
 * Which process a flow run's pid meant when it was launched. A pid alone is not enough after a worker restart:
 * the flow-run process may have ended long ago and its pid been given to something else, which the worker must
 * then neither report as the flow run nor signal. The start time (and the boot it belongs to) settles that.
 *
 * @param pid        the process id (the exit wrapper's, which leads the run's process group)
 * @param startTicks the start time from {@code /proc}, or null when unknown (a handle rebuilt from the pid alone,
 *                   a machine without {@code /proc}, a process that ended before it could be read)
 * @param bootId     the boot the start time belongs to, or null when unknown
 */
record ProcessIdentity(long pid, Long startTicks, String bootId) {

    static ProcessIdentity pidOnly(long pid) {
        return new ProcessIdentity(pid, null, null);
    }

    /** The identity of the process that has the pid now, as far as {@code /proc} tells. */
    static ProcessIdentity observe(long pid, String bootId) {
        return ProcStat.read(pid).map(s -> new ProcessIdentity(pid, s.startTicks(), bootId)).orElse(pidOnly(pid));
    }

    /** Whether the pid can be told from a later process with the same pid. */
    boolean exact() {
        return startTicks != null;
    }

    /**
     * The process, if it is still this one and has not ended. With a pid-only identity, any live process with the
     * pid counts (best effort).
     */
    Optional<ProcStat> current(String currentBootId) {
        if (bootId != null && currentBootId != null && !bootId.equals(currentBootId)) {
            return Optional.empty();
        }
        return ProcStat.read(pid).filter(ProcStat::running)
                .filter(s -> startTicks == null || startTicks == s.startTicks());
    }

    /** True when a live process has the pid but started at another time: the pid was reused. */
    boolean reused(String currentBootId) {
        if (startTicks == null) {
            return false;
        }
        if (bootId != null && currentBootId != null && !bootId.equals(currentBootId)) {
            return ProcStat.read(pid).isPresent();
        }
        return ProcStat.read(pid).map(s -> s.startTicks() != startTicks).orElse(false);
    }
}
