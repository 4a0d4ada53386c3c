package io.pworker.docker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.testkit.LauncherContract;
import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.opentest4j.TestAbortedException;

/**
 * The launcher contract on a real Docker engine. Containers run the script under Docker's init ({@code
 * container_create_kwargs: {"init": true}}) so that it gets SIGTERM like a process would. They ask for {@code
 * auto_remove}, so the contract's own clean-up (kill, then release) removes them; whatever a failing test leaves
 * is removed by its test label.
 */
class DockerLauncherContractTest extends LauncherContract {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Marks this class's containers, for the clean-up of last resort. */
    private static final String TEST_LABEL = "pworker.test.contract";
    private static final String TEST_RUN = UUID.randomUUID().toString();

    @Override
    protected InfrastructureLauncher createLauncher() throws Exception {
        DockerTestEngine engine = DockerTestEngine.get();
        return DockerLauncher.connect(new PluginContext("contract-worker", Map.of("DOCKER_HOST", engine.host()),
                new PrintStream(OutputStream.nullOutputStream()), Clock.systemUTC(), Path.of(System.getProperty("java.io.tmpdir"))));
    }

    @Override
    protected ObjectNode configuration(FlowRunInfo run, String script) {
        ObjectNode c = JSON.createObjectNode();
        c.put("image", DockerTestEngine.IMAGE);
        c.put("image_pull_policy", "Never");
        ArrayNode command = c.putArray("command");
        command.add("sh").add("-c").add(script);
        c.putObject("env");
        ObjectNode labels = c.putObject("labels");
        labels.put("prefect.io/flow-run-id", run.id());
        labels.put("prefect.io/work-pool-id", run.workPoolId());
        labels.put("prefect.io/worker-name", run.workerName());
        labels.put(TEST_LABEL, TEST_RUN);
        c.put("name", run.name());
        c.put("auto_remove", true);
        c.put("stream_output", false);
        // as PID 1 the shell would ignore SIGTERM; Docker's init passes it on, as to a process outside a container
        c.putObject("container_create_kwargs").put("init", true);
        return c;
    }

    @Override
    protected void removeFromOutside(RunHandle handle) {
        String pid = handle.infrastructurePid();
        DockerTestEngine.get().client().removeContainerCmd(pid.substring(pid.lastIndexOf(':') + 1)).withForce(true).exec();
    }

    @AfterAll
    static void removeWhatFailedTestsLeft() {
        DockerTestEngine engine;
        try {
            engine = DockerTestEngine.get();
        } catch (TestAbortedException noEngine) {
            return;
        }
        engine.client().listContainersCmd().withShowAll(true).withLabelFilter(Map.of(TEST_LABEL, TEST_RUN)).exec()
                .forEach(c -> engine.client().removeContainerCmd(c.getId()).withForce(true).exec());
    }
}
