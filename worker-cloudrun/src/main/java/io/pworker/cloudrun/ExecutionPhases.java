package io.pworker.cloudrun;

import com.google.cloud.run.v2.Condition;
import com.google.cloud.run.v2.Execution;
import com.google.cloud.run.v2.ExecutionReference;
import com.google.cloud.run.v2.Task;
import com.google.cloud.run.v2.TaskAttemptResult;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import java.util.ArrayList;
import java.util.List;

/**
 * What an execution's status means for the flow run, by Prefect's rule: running until it has a completion
 * time, then 0 when its {@code Completed} condition succeeded and 1 otherwise.
 */
final class ExecutionPhases {

    static final String COMPLETED = "Completed";

    private ExecutionPhases() {
    }

    static Phase of(Execution e) {
        String name = shortName(e.getName());
        if (e.hasCompletionTime()) {
            Condition completed = condition(e, COMPLETED);
            if (completed != null && completed.getState() == Condition.State.CONDITION_SUCCEEDED) {
                return Phase.Exited.of(0);
            }
            StringBuilder reason = new StringBuilder("The Cloud Run execution ").append(name);
            if (e.getCancelledCount() > 0 || (completed != null
                    && completed.getExecutionReason() == Condition.ExecutionReason.CANCELLED)) {
                reason.append(" was cancelled");
            } else {
                reason.append(" failed");
            }
            if (completed != null && !completed.getMessage().isBlank()) {
                reason.append(": ").append(completed.getMessage().strip());
            }
            if (!e.getLogUri().isBlank()) {
                // Cloud Run's condition messages often end with their own full stop
                reason.append(reason.charAt(reason.length() - 1) == '.' ? " " : ". ").append("Its logs: ")
                        .append(e.getLogUri());
            }
            return new Phase.Exited(new ExitStatus(1, reason.toString()));
        }
        if (e.getRunningCount() > 0 || e.hasStartTime() || e.getSucceededCount() + e.getFailedCount() > 0) {
            return new Phase.Running();
        }
        return new Phase.Pending(pendingDetail(e, name));
    }

    /**
     * Cloud Run's execution only says "failed"; its tasks keep the container's exit code, which the flow run's
     * crash message is better off with than Prefect's plain 1. A code of 0 or none found leaves the phase as is.
     */
    static Phase withExitCode(Phase.Exited failed, Iterable<Task> tasks) {
        for (Task t : tasks) {
            TaskAttemptResult last = t.getLastAttemptResult();
            int code = last.getExitCode() != 0 ? last.getExitCode() : last.getTermSignal() != 0 ? 128 + last.getTermSignal() : 0;
            if (code != 0) {
                return new Phase.Exited(new ExitStatus(code, failed.status().reason() + " (task " + shortName(t.getName())
                        + (last.getExitCode() != 0 ? " exited with code " + code : " was ended by signal " + last.getTermSignal())
                        + ")"));
            }
        }
        return failed;
    }

    /**
     * For the run's log when an execution failed: Cloud Run's own words and where its logs are, which the flow
     * run itself may never have written (a container that did not start, a task out of memory).
     */
    static List<String> failureLines(Execution e) {
        List<String> lines = new ArrayList<>();
        Condition completed = condition(e, COMPLETED);
        String name = shortName(e.getName());
        if (completed != null && !completed.getMessage().isBlank()) {
            lines.add("Cloud Run execution " + name + ": " + completed.getMessage().strip());
        }
        for (Condition c : e.getConditionsList()) {
            if (c != completed && c.getState() == Condition.State.CONDITION_FAILED && !c.getMessage().isBlank()) {
                lines.add("Cloud Run execution " + name + " (" + c.getType() + "): " + c.getMessage().strip());
            }
        }
        if (!e.getLogUri().isBlank()) {
            lines.add("Logs of Cloud Run execution " + name + ": " + e.getLogUri());
        }
        return lines;
    }

    /** What a job's summary of its latest execution says, for listings (no conditions there). */
    static Phase of(ExecutionReference ref) {
        String name = shortName(ref.getName());
        return switch (ref.getCompletionStatus()) {
            case EXECUTION_SUCCEEDED -> Phase.Exited.of(0);
            case EXECUTION_FAILED -> new Phase.Exited(new ExitStatus(1, "The Cloud Run execution " + name + " failed."));
            case EXECUTION_CANCELLED -> new Phase.Exited(new ExitStatus(1, "The Cloud Run execution " + name + " was cancelled."));
            case EXECUTION_RUNNING -> new Phase.Running();
            default -> ref.hasCompletionTime() ? new Phase.Exited(new ExitStatus(1, "The Cloud Run execution " + name
                    + " ended; how is not known")) : new Phase.Pending("Cloud Run execution " + name + " is waiting to start");
        };
    }

    /** Stable while nothing changes, since the core logs it once per change. */
    private static String pendingDetail(Execution e, String name) {
        for (Condition c : e.getConditionsList()) {
            if (c.getState() != Condition.State.CONDITION_SUCCEEDED && !c.getMessage().isBlank() && !c.getType().equals(COMPLETED)) {
                return "Cloud Run execution " + name + " is waiting to start (" + c.getType() + ": " + c.getMessage().strip() + ")";
            }
        }
        return "Cloud Run execution " + name + " is waiting to start";
    }

    static Condition condition(Execution e, String type) {
        for (Condition c : e.getConditionsList()) {
            if (c.getType().equals(type)) {
                return c;
            }
        }
        return null;
    }

    /** {@code projects/p/locations/r/jobs/j/executions/j-abc12} → {@code j-abc12}. */
    static String shortName(String resource) {
        return resource.substring(resource.lastIndexOf('/') + 1);
    }
}
