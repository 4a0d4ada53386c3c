package io.pworker.cloudrun;

import static io.pworker.cloudrun.CloudRunFixture.configuration;
import static io.pworker.cloudrun.CloudRunFixture.credentials;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.cloud.run.v2.Execution;
import com.google.cloud.run.v2.Job;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher against the fake API with tasks run in memory: the calls, their order, failures and retries. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CloudRunLauncherTest {

    private static final ServiceAccountKey KEY = ServiceAccountKey.generate();

    @TempDir
    Path dir;
    private FakeCloudRun fake;
    private CloudRunLauncher launcher;
    private final CloudRunFixture.Lines log = new CloudRunFixture.Lines();
    private final List<Watch> watches = new ArrayList<>();

    @BeforeEach
    void start() {
        fake = FakeCloudRun.start(new InMemoryRunner(), KEY.keys().getPublic());
        launcher = new CloudRunLauncher(CloudRunFixture.context(Map.of(), dir), CloudRunFixture.settings(fake));
    }

    @AfterEach
    void stop() {
        watches.forEach(Watch::close);
        if (launcher != null) {
            launcher.close();
        }
        if (fake != null) {
            fake.close();
        }
    }

    private ObjectNode config(FlowRunInfo run, String overrides) {
        return configuration(run, credentials(KEY, fake), overrides);
    }

    private RunHandle launch(FlowRunInfo run, ObjectNode config) throws Exception {
        return launcher.launch(new LaunchRequest(run, config, log));
    }

    private BlockingQueue<Phase> watch(RunHandle handle, ObjectNode config) throws Exception {
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        watches.add(launcher.watch(handle, config, phases::add));
        return phases;
    }

    private static Phase terminal(BlockingQueue<Phase> phases) throws InterruptedException {
        while (true) {
            Phase p = phases.poll(20, TimeUnit.SECONDS);
            assertThat(p).as("a phase within 20 s").isNotNull();
            if (p.terminal()) {
                return p;
            }
        }
    }

    @Test
    void aRunIsAJobWithOneExecutionNamedAfterTheFlowRun() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{}");
        RunHandle handle = launch(run, config);

        String hex = run.id().replace("-", "").substring(0, 7);
        assertThat(handle.infrastructurePid()).isEqualTo("tidy-otter-" + hex);
        assertThat(handle.state()).containsEntry("project", ServiceAccountKey.PROJECT).containsEntry("region", "us-central1");
        assertThat(fake.tokenIssued()).as("authenticated with the service account key").isTrue();
        Job job = fake.job("projects/demo-project/locations/us-central1/jobs/tidy-otter-" + hex);
        assertThat(job.getLabelsMap()).containsEntry("prefect_io_flow-run-id", run.id())
                .containsEntry("prefect_io_version", "3_4_25");
        assertThat(job.getTemplate().getLabelsMap()).containsEntry("prefect_io_flow-run-id", run.id());
        assertThat(job.getTemplate().getTemplate().getContainers(0).getCommandList())
                .containsExactly("prefect", "flow-run", "execute");
        assertThat(job.getTemplate().getTemplate().getTimeout().getSeconds()).isEqualTo(600);
        assertThat(job.getTemplate().getTemplate().hasVpcAccess()).isFalse();
        assertThat(fake.count("POST", ":run$")).isEqualTo(1);
        assertThat(terminal(watch(handle, config))).isEqualTo(Phase.Exited.of(0));
    }

    @Test
    void aFailedExecutionReportsItsExitCodeConditionAndLogs() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{\"env\": {\"FAKE_EXIT\": \"3\"}}");
        Phase end = terminal(watch(launch(run, config), config));
        assertThat(end).isInstanceOf(Phase.Exited.class);
        var status = ((Phase.Exited) end).status();
        assertThat(status.code()).isEqualTo(3);
        assertThat(status.reason()).contains("failed with message: The container exited with an error")
                .contains("https://console.cloud.google.com/logs/viewer?project=demo-project").contains("exited with code 3");
    }
}
