package io.pworker.worker;

import io.pworker.spi.Phase;

/**
 * What a flow run's end means for its Prefect state. This is the one place that decides between Crashed,
 * Cancelled and leaving the state to the engine inside the infrastructure; the run's supervisor gathers the facts
 * and {@link RunReporter} carries the verdict out.
 */
sealed interface Verdict {

    /** Nothing to write: the engine reports (or has reported) the run's state itself. */
    record LeaveToEngine() implements Verdict {
    }

    /** Propose CRASHED (the server refuses it for a run that already finished). */
    record Crash(String message) implements Verdict {
    }

    /** Force CANCELLED, unless the run already finished. */
    record Cancel(String message) implements Verdict {
    }

    /**
     * A crash not proposed because the run had moved on when its infrastructure ended: its engine rescheduled or
     * paused it, or another attempt has claimed it. Only {@link RunReporter} turns a {@link Crash} into this.
     */
    record Superseded(String reason) implements Verdict {
    }

    /** Who stopped the infrastructure, when the worker did. */
    enum StoppedBy {
        NOBODY, CANCELLATION, SHUTDOWN
    }

    /**
     * The verdict for infrastructure that ended.
     *
     * @param end            the terminal phase ({@link Phase.Exited} or {@link Phase.Gone})
     * @param stoppedBy      why the worker stopped it, if it did
     * @param endedWhileDown it ended while no worker was watching (found by a worker that started later)
     */
    static Verdict of(Phase end, StoppedBy stoppedBy, boolean endedWhileDown, String workerName) {
        if (stoppedBy == StoppedBy.CANCELLATION) {
            return new Cancel("Flow run was cancelled: pworker stopped its infrastructure.");
        }
        if (end instanceof Phase.Exited exited && exited.status().successful()) {
            return new LeaveToEngine();
        }
        String downNote = endedWhileDown ? " The infrastructure ended while the worker was down; worker '" + workerName
                + "' found it when it started." : "";
        if (end instanceof Phase.Exited exited) {
            int code = exited.status().code();
            String reason = exited.status().reason();
            if (stoppedBy == StoppedBy.SHUTDOWN) {
                return new Crash("Worker '" + workerName + "' was stopped while this flow run was running, and stopped "
                        + "its process (exit code " + code + ").");
            }
            if (code < 0 && reason != null) {
                // no exit code to speak of: the infrastructure vanished or the plugin lost sight of it
                return new Crash(sentence(reason) + downNote);
            }
            return new Crash("Flow run infrastructure exited with non-zero status code " + code + ". "
                    + sentence(reason != null ? reason : ExitCodes.explain(code)) + downNote);
        }
        String reason = ((Phase.Gone) end).reason();
        if (stoppedBy == StoppedBy.SHUTDOWN) {
            return new Crash("Worker '" + workerName + "' was stopped while this flow run was running, and stopped "
                    + "its infrastructure (" + reason + ").");
        }
        return new Crash(sentence(reason) + (endedWhileDown ? " It ended while the worker was down." : ""));
    }

    /** Nothing was started: rendering, validation, the plugin or the API refused the run. */
    static Verdict submissionFailed(String reason) {
        return new Crash("Failed to submit flow run to infrastructure: " + reason);
    }

    static Verdict cancelledBeforeLaunch() {
        return new Cancel("Flow run was cancelled before its infrastructure was created.");
    }

    static Verdict stoppedBeforeLaunch(String workerName) {
        return new Crash("Worker '" + workerName + "' was stopped while submitting this flow run; its infrastructure "
                + "was not started.");
    }

    /** A worker died in the middle of a launch and the plugin cannot find what it may have started. */
    static Verdict launchUnknown(String workerName) {
        return new Crash("A worker stopped while it was launching this flow run's infrastructure, and worker '"
                + workerName + "' cannot find that infrastructure now, so whether the flow run started is unknown. "
                + "Check the infrastructure and start the flow run again if needed.");
    }

    private static String sentence(String text) {
        String t = text.strip();
        return t.endsWith(".") || t.endsWith("!") || t.endsWith("?") ? t : t + ".";
    }
}
