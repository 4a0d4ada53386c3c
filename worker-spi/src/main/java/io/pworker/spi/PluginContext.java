package io.pworker.spi;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * What the core lends a plugin when it creates a launcher; the only way in.
 *
 * @param workerName     this worker's name (for labels a plugin adds to its infrastructure)
 * @param environment    the worker process's environment (tests substitute their own); read backend settings
 *                       such as {@code DOCKER_HOST} from here, not from {@link System#getenv}
 * @param console        where {@code stream_output} copies flow-run output, one line per call
 * @param clock          the clock to use for timeouts and timestamps
 * @param stateDirectory a directory that belongs to this plugin and survives worker restarts (under the core's
 *                       {@code PWORKER_STATE_DIR}), for what a plugin must remember across a crash of the worker,
 *                       such as the exit codes of local processes. Existing and writable when the launcher is
 *                       created. Never put secrets there
 */
public record PluginContext(String workerName, Map<String, String> environment, PrintStream console, Clock clock,
        Path stateDirectory) {

    public PluginContext {
        environment = Map.copyOf(environment);
    }
}
