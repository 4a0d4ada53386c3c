package io.pworker.process;

/**
 * The launcher contract with every run a child of the worker, as when the worker is PID 1 in a container, or
 * {@code setsid} cannot fork: the JDK, not the exit file, gives the exit code of a run this worker started.
 */
class ProcessLauncherAttachedContractTest extends ProcessLauncherContractTest {

    @Override
    ExitWrapper wrapper() {
        return ExitWrapper.detect().attached();
    }
}
