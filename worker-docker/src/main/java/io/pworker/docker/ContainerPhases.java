package io.pworker.docker;

import com.github.dockerjava.api.command.InspectContainerResponse;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads what a container is doing as a {@link Phase}, in the words the worker reports: an exit code alone, or
 * with the reason the engine knows (killed for memory, stopped from outside), or the container gone. Remembers
 * which containers this worker stopped itself, so that their SIGKILL is not blamed on someone else.
 */
final class ContainerPhases {

    private final Set<String> stoppedByWorker = ConcurrentHashMap.newKeySet();

    /** Called before the worker stops a container. */
    void stoppingByWorker(String containerId) {
        stoppedByWorker.add(containerId);
    }

    void forget(String containerId) {
        stoppedByWorker.remove(containerId);
    }

    /** The phase an inspected container is in; {@code name} stands in when the engine gives none. */
    Phase of(InspectContainerResponse container, String name) {
        String shown = container.getName() != null ? container.getName().replaceFirst("^/", "") : name;
        InspectContainerResponse.ContainerState state = container.getState();
        String status = state == null || state.getStatus() == null ? "unknown" : state.getStatus();
        return switch (status) {
            case "created" -> new Phase.Pending("container " + shown + " is created and not started yet");
            case "restarting" -> new Phase.Pending("container " + shown + " is restarting");
            case "running", "paused" -> new Phase.Running();
            case "exited" -> exited(container.getId(), shown, state);
            // "removing", "dead": on its way out through someone's docker rm
            case "removing", "dead" -> disappeared(shown);
            default -> new Phase.Pending("container " + shown + " is " + status);
        };
    }

    /** No container any more: it was removed by someone else, since the worker removes only after the final report. */
    static Phase disappeared(String name) {
        return new Phase.Gone("The container " + name + " disappeared: it was removed outside the worker before the"
                + " worker could read how it ended.");
    }

    private Phase exited(String id, String name, InspectContainerResponse.ContainerState state) {
        int code = state.getExitCodeLong() == null ? -1 : state.getExitCodeLong().intValue();
        if (Boolean.TRUE.equals(state.getOOMKilled())) {
            return new Phase.Exited(new ExitStatus(code == 0 ? -1 : code, "The container " + name
                    + " was killed by the kernel for running out of memory; consider raising mem_limit."));
        }
        if ((code == 137 || code == 143) && !stoppedByWorker.contains(id)) {
            return new Phase.Exited(new ExitStatus(code, "The container " + name + " was stopped or killed outside the"
                    + " worker (" + (code == 137 ? "SIGKILL" : "SIGTERM") + ")."));
        }
        return Phase.Exited.of(code);
    }
}
