package io.pworker.worker;

/** What a non-zero exit code usually means, for the Crashed message (worker-spec §2.8). */
final class ExitCodes {

    private ExitCodes() {
    }

    static String explain(int code) {
        return switch (code) {
            case 0 -> "The process exited cleanly.";
            case -9 -> "The process was killed by SIGKILL, likely because it ran out of memory or was stopped by hand.";
            case -15 -> "The process was terminated by SIGTERM, as happens on cancellation or shutdown.";
            case 1 -> "The flow run exited with a general error; its logs should show the exception.";
            case 125 -> "The container failed to run; check the image, its entrypoint and the container runtime.";
            case 126 -> "The command could not be executed; check its permissions.";
            case 127 -> "The command was not found; check that it is installed and on PATH in the runtime environment.";
            case 137 -> "The process was killed, likely because it ran out of memory; consider raising its memory limit.";
            case 143 -> "The process was terminated by SIGTERM through the container runtime, as on cancellation or scaling.";
            case 247 -> "The process was terminated for using too much memory.";
            case 0xC000013A -> "The process was stopped by Ctrl+C or Ctrl+Break.";
            default -> "Unexpected exit code; check the flow run's and the infrastructure's logs.";
        };
    }
}
