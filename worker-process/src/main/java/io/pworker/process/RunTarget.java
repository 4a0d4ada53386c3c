package io.pworker.process;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The process a handle names, with what this launcher knows about it.
 *
 * @param identity  the process (exact when a start time is known)
 * @param flowRunId the flow run, or null for a pid-only handle that matches no launch record
 * @param record    the launch record of this very process, or null
 * @param child     the process as this launcher started it, or null when another worker process started it
 */
record RunTarget(ProcessIdentity identity, String flowRunId, LaunchRecord record, Child child) {

    private static final Duration POLL = Duration.ofMillis(50);

    long pid() {
        return identity.pid();
    }

    /** Whether the process is still running (and is still the one the handle meant). */
    boolean running(String bootId) {
        return child != null && child.parented() ? child.process().isAlive() : identity.current(bootId).isPresent();
    }

    /** Whether it leads its own process group, so that the group can be signalled; rechecked before each signal. */
    boolean leadsItsGroup(ExitWrapper wrapper) {
        if (!ProcStat.available()) {
            // no way to look: trust that a child started through setsid leads its group (a detached one needs /proc)
            return child != null && wrapper.groups();
        }
        return ProcStat.read(pid()).map(ProcStat::leadsItsGroup).orElse(false);
    }

    /** Waits until the process has ended; false when it still runs after {@code timeout}. */
    boolean awaitEnd(Duration timeout, String bootId) throws InterruptedException {
        if (child != null && child.parented()) {
            try {
                child.process().onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                return true;
            } catch (TimeoutException e) {
                return false;
            } catch (ExecutionException e) {
                return !child.process().isAlive();
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (identity.current(bootId).isPresent()) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            Thread.sleep(POLL);
        }
        return true;
    }
}
