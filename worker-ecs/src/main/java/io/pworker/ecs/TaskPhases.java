package io.pworker.ecs;

import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.services.ecs.model.Container;
import software.amazon.awssdk.services.ecs.model.Task;
import software.amazon.awssdk.services.ecs.model.TaskStopCode;

/**
 * What an ECS task's description means for the flow run. Only STOPPED is terminal: a task that is deactivating or
 * stopping may still be writing the flow run's final state. The flow-run container decides the exit code; when the
 * task has no container of that name, every container's exit code counts.
 */
final class TaskPhases {

    private TaskPhases() {
    }

    static Phase of(Task task, String flowContainer) {
        String status = task.lastStatus() == null ? "" : task.lastStatus();
        return switch (status) {
            case "PROVISIONING", "PENDING", "ACTIVATING" -> new Phase.Pending("ECS task is " + status);
            case "STOPPED" -> stopped(task, flowContainer);
            default -> new Phase.Running();
        };
    }

    private static Phase stopped(Task task, String flowContainer) {
        List<Container> containers = task.containers().stream()
                .filter(c -> flowContainer.equals(c.name())).toList();
        if (containers.isEmpty()) {
            containers = task.containers();
        }
        String why = why(task);
        if (containers.isEmpty() || containers.stream().anyMatch(c -> c.exitCode() == null)) {
            if (task.stopCode() == TaskStopCode.TASK_FAILED_TO_START) {
                return new Phase.Gone("ECS task failed to start: " + orUnknown(task.stoppedReason())
                        + containerReasons(containers));
            }
            return new Phase.Gone("ECS task stopped before its container reported an exit code (" + why + ")"
                    + containerReasons(containers));
        }
        List<String> failed = new ArrayList<>();
        int code = 0;
        for (Container c : containers) {
            if (c.exitCode() != 0) {
                failed.add(c.name());
                code = code == 0 ? c.exitCode() : code;
            }
        }
        if (code == 0) {
            return Phase.Exited.of(0);
        }
        return new Phase.Exited(new ExitStatus(code, "ECS container(s) " + failed + " stopped with exit code " + code
                + " (" + why + ")" + containerReasons(containers)));
    }

    /**
     * What the run's log should say about a task that stopped before its flow ran (no exit code): ECS keeps these
     * reasons only about an hour after the stop, and the flow itself never got to log anything. Empty otherwise.
     */
    static List<String> stopLines(Task task, Phase phase) {
        if (!(phase instanceof Phase.Gone)) {
            return List.of();
        }
        List<String> lines = new ArrayList<>();
        lines.add("ECS task " + task.taskArn() + " stopped before its flow run could run: " + why(task)
                + (task.startedAt() == null ? " (it never started)" : ""));
        for (Container c : task.containers()) {
            StringBuilder line = new StringBuilder("ECS container " + c.name() + ": " + orUnknown(c.lastStatus()));
            if (c.exitCode() != null) {
                line.append(", exit code ").append(c.exitCode());
            }
            if (c.reason() != null && !c.reason().isBlank()) {
                line.append(", ").append(c.reason());
            }
            lines.add(line.toString());
        }
        return lines;
    }

    private static String why(Task task) {
        return "stopCode " + (task.stopCodeAsString() == null ? "unknown" : task.stopCodeAsString()) + ": "
                + orUnknown(task.stoppedReason());
    }

    private static String containerReasons(List<Container> containers) {
        StringBuilder out = new StringBuilder();
        for (Container c : containers) {
            if (c.reason() != null && !c.reason().isBlank()) {
                out.append("; container ").append(c.name()).append(": ").append(c.reason());
            }
        }
        return out.toString();
    }

    private static String orUnknown(String s) {
        return s == null || s.isBlank() ? "no reason given" : s;
    }
}
