package io.pworker.process;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A flow-run process this launcher started. When it is also the process's parent ({@code process} set), its exit
 * code comes from the JDK, which collects it the moment the process ends; a detached wrapper
 * ({@link ExitWrapper#detaches()}) is watched like a process found after a restart, through {@code /proc} and its
 * exit file.
 *
 * @param flowRunId     the flow run
 * @param process       the wrapper's (or, without one, the command's) process when this worker is its parent, else
 *                      null
 * @param identity      its pid and start time
 * @param tempDir       the temporary working directory, or null
 * @param killRequested set before the worker signals it, so that a signal death is reported as {@code -N}
 * @param killSent      set before the worker sends SIGKILL, so that a detached wrapper that dies of it without an
 *                      exit file is reported as {@code -9}
 */
record Child(String flowRunId, Process process, ProcessIdentity identity, Path tempDir,
        AtomicBoolean killRequested, AtomicBoolean killSent) {

    /** Whether this worker is the process's parent, and so learns its end and exit code from the JDK. */
    boolean parented() {
        return process != null;
    }
}
