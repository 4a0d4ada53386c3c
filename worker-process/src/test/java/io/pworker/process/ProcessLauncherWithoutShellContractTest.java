package io.pworker.process;

/** The launcher contract on a machine without {@code /bin/sh} for the exit wrapper: exit codes are lost on a restart. */
class ProcessLauncherWithoutShellContractTest extends ProcessLauncherContractTest {

    @Override
    ExitWrapper wrapper() {
        return ExitWrapper.detect().withoutShell();
    }
}
