package io.pworker.cloudrun;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.testkit.LauncherContract;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher contract with Cloud Run faked and each execution's task a container on the real Docker engine:
 * exit codes are the container's own, a kill deletes the execution (its container is stopped), and a removal
 * from outside is an execution deleted behind the worker's back.
 */
class CloudRunLauncherContractTest extends LauncherContract {

    private static final ServiceAccountKey KEY = ServiceAccountKey.generate();

    @TempDir
    Path dir;
    private FakeCloudRun fake;

    @BeforeEach
    void startFake() {
        fake = FakeCloudRun.start(new DockerRunner(DockerTestEngine.get()), KEY.keys().getPublic());
    }

    /**
     * Closed after the contract's own clean-up, which still talks to the fake: JUnit runs a subclass's
     * {@code @AfterEach} before its superclass's, and extensions' after-each callbacks after both.
     */
    @RegisterExtension
    final AfterEachCallback stopFake = context -> {
        if (fake != null) {
            fake.close();
        }
    };

    @Override
    protected InfrastructureLauncher createLauncher() {
        return new CloudRunLauncher(CloudRunFixture.context(Map.of(), dir), CloudRunFixture.settings(fake));
    }

    @Override
    protected ObjectNode configuration(FlowRunInfo run, String script) {
        ObjectNode c = CloudRunFixture.configuration(run, CloudRunFixture.credentials(KEY, fake), "{}");
        ObjectNode container = (ObjectNode) c.at("/job_body/template/template/containers/0");
        container.putArray("command").add("sh").add("-c").add(script);
        return c;
    }

    @Override
    protected void removeFromOutside(RunHandle handle) {
        fake.deleteExecutionFromOutside(handle.state().get("execution"));
    }

    /** Beyond the contract: what the job body carries reaches the container, and a release leaves nothing behind. */
    @Test
    void theRunsEnvironmentAndArgsReachTheContainerAndReleaseRemovesEverything() throws Exception {
        InfrastructureLauncher l = newLauncher();
        FlowRunInfo info = newRun();
        ObjectNode config = configuration(info, "test \"$PREFECT__FLOW_RUN_ID\" = \"$0\" && test \"$1\" = 'two words' || exit 7");
        ((ObjectNode) config.at("/job_body/template/template/containers/0")).put("args", info.id() + " 'two words'");
        config.with("env").put("PREFECT__FLOW_RUN_ID", info.id());
        RunHandle handle = l.launch(new io.pworker.spi.LaunchRequest(info, config, QUIET));
        java.util.concurrent.BlockingQueue<io.pworker.spi.Phase> phases = new java.util.concurrent.LinkedBlockingQueue<>();
        try (io.pworker.spi.Watch w = l.watch(handle, config, phases::add)) {
            assertThat(exitCode(awaitTerminal(phases))).isZero();
        }
        l.release(handle, config);
        assertThat(fake.jobs()).noneMatch(j -> j.getName().endsWith("/" + handle.infrastructurePid()));
        assertThat(fake.executions()).noneMatch(e -> e.getName().equals(handle.state().get("execution")));
    }

    @Override
    protected Duration patience() {
        return Duration.ofSeconds(40);
    }
}
