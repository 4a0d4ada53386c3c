package io.pworker.process;

/**
 * What the launcher writes to its state directory when it starts a flow-run process, so that a worker started
 * after a crash can find the process again, tell it from a later process with the same pid, and clean up after
 * it. Written once at launch and again when a kill is requested; removed by {@code release}.
 *
 * @param flowRunId          the flow run the process belongs to
 * @param identity           the process (pid, start time, boot)
 * @param recordsExitCode    whether the exit wrapper writes the exit code (false when started without a shell)
 * @param tempDir            the temporary working directory to remove on release, or null
 * @param workerName         the worker that launched it (for {@code discover})
 * @param workPoolId         the pool it was launched for (for {@code discover})
 * @param workPoolName       the pool's name
 * @param killRequested      whether a worker asked it to stop, so that a signal death is reported as {@code -N}
 */
record LaunchRecord(String flowRunId, ProcessIdentity identity, boolean recordsExitCode, String tempDir,
        String workerName, String workPoolId, String workPoolName, boolean killRequested) {

    LaunchRecord withKillRequested() {
        return new LaunchRecord(flowRunId, identity, recordsExitCode, tempDir, workerName, workPoolId, workPoolName,
                true);
    }
}
