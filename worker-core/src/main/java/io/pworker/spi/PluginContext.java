package io.pworker.spi;

import java.io.PrintStream;
import java.time.Clock;
import java.util.Map;

/**
 * What the core lends a plugin when it creates a launcher; the only way in.
 *
 * @param workerName  this worker's name (for labels a plugin adds to its infrastructure)
 * @param environment the worker process's environment (tests substitute their own); read backend settings
 *                    such as {@code DOCKER_HOST} from here, not from {@link System#getenv}
 * @param console     where {@code stream_output} copies flow-run output, one line per call
 * @param clock       the clock to use for timeouts and timestamps
 */
public record PluginContext(String workerName, Map<String, String> environment, PrintStream console, Clock clock) {

    public PluginContext {
        environment = Map.copyOf(environment);
    }
}
