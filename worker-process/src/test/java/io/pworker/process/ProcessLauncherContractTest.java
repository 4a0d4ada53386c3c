package io.pworker.process;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.LauncherContract;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/** The launcher contract, for local processes under the exit wrapper. */
class ProcessLauncherContractTest extends LauncherContract {

    /** One state directory per test, shared by the launchers that play the worker before and after a restart. */
    @TempDir
    Path state;

    /** The wrapper this machine allows; {@link ProcessLauncherWithoutShellContractTest} runs without one. */
    ExitWrapper wrapper() {
        return ExitWrapper.detect();
    }

    @Override
    protected InfrastructureLauncher createLauncher() throws Exception {
        return new ProcessLauncher(new PluginContext("contract-worker", Map.of("PATH", System.getenv("PATH")),
                new PrintStream(OutputStream.nullOutputStream()), Clock.systemUTC(), state), wrapper());
    }

    @Override
    protected ObjectNode configuration(FlowRunInfo run, String script) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("command", "sh -c " + ProcessTests.shellQuote(script));
        c.put("name", run.name());
        c.put("stream_output", false);
        return c;
    }

    @Override
    protected void removeFromOutside(RunHandle handle) throws Exception {
        ProcessTests.killGroup(Long.parseLong(handle.infrastructurePid()));
    }

    @Override
    protected boolean exitCodeKnownAfterRestart() {
        return wrapper().recordsExitCodes();
    }

    @Override
    protected Duration patience() {
        return Duration.ofSeconds(30);
    }
}
