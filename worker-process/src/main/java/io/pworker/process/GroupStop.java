package io.pworker.process;

import io.pworker.spi.InfrastructureException;
import java.time.Duration;

/**
 * One stop of one flow-run process: SIGTERM to its process group, SIGKILL after the grace period, and once the
 * leader has ended a last SIGKILL to what is left of its group (something the flow started in the background).
 *
 * <p>The group is signalled only while the pid is seen to lead it (a pid that leads no group of its own names
 * someone else's group as {@code -pid}), and that is looked at again before every signal: right after a launch,
 * {@code setsid} may not have run yet.
 */
final class GroupStop {

    private static final Duration KILL_CONFIRMATION = Duration.ofSeconds(10);
    private static final Duration POLL = Duration.ofMillis(20);

    private final RunTarget target;
    private final ExitWrapper wrapper;
    private final GroupSignals signals;
    private final String bootId;
    private final Runnable beforeKill;
    private boolean ledItsGroup;

    /** @param beforeKill runs before SIGKILL is sent, to note it for the exit report */
    GroupStop(RunTarget target, ExitWrapper wrapper, GroupSignals signals, String bootId, Runnable beforeKill) {
        this.target = target;
        this.wrapper = wrapper;
        this.signals = signals;
        this.bootId = bootId;
        this.beforeKill = beforeKill;
    }

    /** Returns once the process has ended; a zero grace goes straight to SIGKILL. */
    void run(Duration grace) throws InfrastructureException, InterruptedException {
        if (grace.isZero() || !terminate(grace)) {
            if (target.running(bootId)) {
                beforeKill.run();
                send("KILL");
            }
            if (!target.awaitEnd(KILL_CONFIRMATION, bootId)) {
                throw new InfrastructureException("process " + target.pid() + " survived SIGKILL");
            }
        }
        if (ledItsGroup) {
            signals.sweepGroup(target.pid());
        }
    }

    /**
     * SIGTERM, then waits up to {@code grace} for the end. A wrapper caught before its command ran keeps the
     * signal to itself (see {@link ExitWrapper}), so the command gets it once it runs. Should the command start
     * in the instant between the look and the signal, it gets SIGTERM twice; either way it is told to stop.
     */
    private boolean terminate(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        boolean missed = wrapped() && !ExitWrapper.commandStarted(target.pid());
        send("TERM");
        while (missed && target.running(bootId) && System.nanoTime() - deadline < 0) {
            if (ExitWrapper.commandStarted(target.pid())) {
                send("TERM");
                missed = false;
            } else {
                Thread.sleep(POLL);
            }
        }
        return target.awaitEnd(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())), bootId);
    }

    private void send(String signal) throws InterruptedException {
        boolean group = target.leadsItsGroup(wrapper);
        ledItsGroup |= group;
        signals.send(signal, target.pid(), group);
    }

    private boolean wrapped() {
        if (target.child() != null) {
            return wrapper.recordsExitCodes();
        }
        return target.record() != null ? target.record().recordsExitCode() : ExitWrapper.isWrapper(target.pid());
    }
}
