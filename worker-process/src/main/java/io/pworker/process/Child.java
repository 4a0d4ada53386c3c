package io.pworker.process;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A flow-run process this launcher started and so is the parent of: its exit code comes from the JDK, which
 * collects it the moment the process ends.
 *
 * @param flowRunId     the flow run
 * @param process       the wrapper's (or, without one, the command's) process
 * @param identity      its pid and start time
 * @param tempDir       the temporary working directory, or null
 * @param killRequested set before the worker signals it, so that a signal death is reported as {@code -N}
 */
record Child(String flowRunId, Process process, ProcessIdentity identity, Path tempDir,
        AtomicBoolean killRequested) {
}
