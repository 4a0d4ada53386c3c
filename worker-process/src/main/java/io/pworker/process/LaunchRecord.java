package io.pworker.process;

/**
 * What the launcher writes to its state directory when it starts a flow-run process, so that a worker started
 * after a crash can find the process again, tell it from a later process with the same pid, and clean up after
 * it. Written before the process is started (without an identity: "starting"), again once it runs, when a kill is
 * requested and now and then as its output is copied; removed by {@code release}.
 *
 * @param flowRunId       the flow run the process belongs to
 * @param identity        the process (pid, start time, boot), or null while it is being started
 * @param recordsExitCode whether the exit wrapper writes the exit code (false when started without a shell)
 * @param tempDir         the temporary working directory to remove on release, or null
 * @param workerName      the worker that launched it (for {@code discover})
 * @param workPoolId      the pool it was launched for (for {@code discover})
 * @param workPoolName    the pool's name
 * @param killRequested   whether a worker asked it to stop, so that a signal death is reported as {@code -N}
 * @param killSent        whether a worker sent it SIGKILL (noted before the signal), which ends the exit wrapper
 *                        before it can write a code: then the run is reported as killed by SIGKILL ({@code -9})
 * @param outputName      the run name that prefixes its output lines on the console, or null when its output is
 *                        not kept ({@code stream_output} off)
 * @param outputPosition  how many bytes of its output file a worker has copied to the console (saved now and then)
 */
record LaunchRecord(String flowRunId, ProcessIdentity identity, boolean recordsExitCode, String tempDir,
        String workerName, String workPoolId, String workPoolName, boolean killRequested, boolean killSent,
        String outputName, long outputPosition) {

    /** A record as the launcher first writes it: nothing asked of the process yet. */
    LaunchRecord(String flowRunId, ProcessIdentity identity, boolean recordsExitCode, String tempDir,
            String workerName, String workPoolId, String workPoolName, boolean killRequested, String outputName,
            long outputPosition) {
        this(flowRunId, identity, recordsExitCode, tempDir, workerName, workPoolId, workPoolName, killRequested,
                false, outputName, outputPosition);
    }

    /** Whether the process may not have been started yet, or its identity was not written before a crash. */
    boolean starting() {
        return identity == null;
    }

    boolean streamsOutput() {
        return outputName != null;
    }

    LaunchRecord started(ProcessIdentity processIdentity) {
        return new LaunchRecord(flowRunId, processIdentity, recordsExitCode, tempDir, workerName, workPoolId,
                workPoolName, killRequested, killSent, outputName, outputPosition);
    }

    LaunchRecord withKillRequested() {
        return new LaunchRecord(flowRunId, identity, recordsExitCode, tempDir, workerName, workPoolId, workPoolName,
                true, killSent, outputName, outputPosition);
    }

    LaunchRecord withKillSent() {
        return new LaunchRecord(flowRunId, identity, recordsExitCode, tempDir, workerName, workPoolId, workPoolName,
                killRequested, true, outputName, outputPosition);
    }

    LaunchRecord withOutputPosition(long position) {
        return new LaunchRecord(flowRunId, identity, recordsExitCode, tempDir, workerName, workPoolId, workPoolName,
                killRequested, killSent, outputName, position);
    }
}
