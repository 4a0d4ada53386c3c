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
        assertThat(log.all()).as("the private key never reaches the run's log").doesNotContain(KEY.secretPart());
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
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        List<String> linesBeforeTheEnd = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
        watches.add(launcher.watch(launch(run, config), config, new io.pworker.spi.PhaseSink() {
            @Override
            public void report(Phase phase) {
                if (phase.terminal()) {
                    linesBeforeTheEnd.addAll(logged);
                }
                phases.add(phase);
            }

            @Override
            public void log(String message) {
                logged.add(message);
            }
        }));
        Phase end = terminal(phases);
        assertThat(linesBeforeTheEnd).as("the run's log, before the end").anyMatch(l -> l.startsWith("Cloud Run execution ")
                && l.contains("The container exited with an error"))
                .anyMatch(l -> l.startsWith("Logs of Cloud Run execution ")
                        && l.contains("https://console.cloud.google.com/logs/viewer?project=demo-project"));
        assertThat(end).isInstanceOf(Phase.Exited.class);
        var status = ((Phase.Exited) end).status();
        assertThat(status.code()).isEqualTo(3);
        assertThat(status.reason()).contains("failed with message: The container exited with an error")
                .contains("https://console.cloud.google.com/logs/viewer?project=demo-project").contains("exited with code 3");
    }

    private static String exec(RunHandle h) {
        return h.state().get("execution");
    }

    @Test
    void aWrongRegionOrProjectIsSaidSo() {
        fake.failNext("POST", "/jobs$", 404, false);
        FlowRunInfo run = CloudRunFixture.run();
        assertThatThrownBy(() -> launch(run, config(run, "{\"region\": \"europe-west9\"}")))
                .isInstanceOf(io.pworker.spi.LaunchException.class)
                .hasMessageContaining("Cloud Run found nothing at projects/demo-project/locations/europe-west9 (HTTP 404)")
                .hasMessageContaining("region 'europe-west9'");
    }

    @Test
    void creationIsRetriedOnTransientErrors() throws Exception {
        fake.failNext("POST", "/jobs$", 429, false);
        fake.failNext("POST", "/jobs$", 503, false);
        FlowRunInfo run = CloudRunFixture.run();
        launch(run, config(run, "{}"));
        assertThat(fake.count("POST", "/jobs$")).isEqualTo(3);
        assertThat(fake.jobs()).hasSize(1);
    }

    @Test
    void aCreationThatSucceededBehindAnErrorIsAdoptedNotDuplicated() throws Exception {
        fake.failNext("POST", "/jobs$", 503, true);
        FlowRunInfo run = CloudRunFixture.run();
        RunHandle h = launch(run, config(run, "{}"));
        assertThat(fake.count("POST", "/jobs$")).isEqualTo(2);
        assertThat(fake.jobs()).hasSize(1);
        assertThat(fake.executions()).hasSize(1).allMatch(e -> e.getName().equals(exec(h)));
        assertThat(log.all()).contains("was created for this flow run by an earlier launch; using it");
    }

    @Test
    void aRunThatStartedBehindATransientErrorIsUsedInsteadOfStartingAnother() throws Exception {
        fake.failNext("POST", ":run$", 503, true);
        FlowRunInfo run = CloudRunFixture.run();
        RunHandle h = launch(run, config(run, "{}"));
        assertThat(fake.count("POST", ":run$")).isEqualTo(1);
        assertThat(fake.executions()).hasSize(1).allMatch(e -> e.getName().equals(exec(h)));
        assertThat(log.all()).contains("did start; using it rather than starting another");
    }

    @Test
    void aRunThatDidNotStartIsTriedAgain() throws Exception {
        fake.failNext("POST", ":run$", 503, false);
        FlowRunInfo run = CloudRunFixture.run();
        RunHandle h = launch(run, config(run, "{}"));
        assertThat(fake.count("POST", ":run$")).isEqualTo(2);
        assertThat(fake.executions()).hasSize(1).allMatch(e -> e.getName().equals(exec(h)));
    }

    @Test
    void whenTheJobCannotBeReadAfterAFailedRunNothingIsRetried() {
        fake.failNext("POST", ":run$", 503, false);
        for (int i = 0; i < CloudRunFixture.FAST.maxAttempts(); i++) {
            fake.failNext("GET", "/jobs/[^/]+$", 503, false);
        }
        FlowRunInfo run = CloudRunFixture.run();
        assertThatThrownBy(() -> launch(run, config(run, "{}"))).isInstanceOf(io.pworker.spi.LaunchException.class)
                .hasMessageContaining("cannot run Cloud Run job").hasMessageContaining("UNAVAILABLE");
        assertThat(fake.count("POST", ":run$")).isEqualTo(1);
        assertThat(log.all()).contains("not retrying, to avoid a second execution");
    }

    @Test
    void aJobThatIsNotReadyFailsTheLaunchAndIsDeleted() {
        fake.jobsNotReady(com.google.cloud.run.v2.Condition.CommonReason.CONTAINER_MISSING);
        FlowRunInfo run = CloudRunFixture.run();
        assertThatThrownBy(() -> launch(run, config(run, "{}"))).isInstanceOf(io.pworker.spi.LaunchException.class)
                .hasMessageContaining("did not become ready: its image cannot be found (prefecthq/prefect:3-latest)");
        assertThat(fake.jobs()).isEmpty();
        assertThat(fake.count("POST", ":run$")).isZero();
    }

    @Test
    void aJobThatIsNotReadyIsKeptWithKeepJob() {
        fake.jobsNotReady(com.google.cloud.run.v2.Condition.CommonReason.CONTAINER_MISSING);
        FlowRunInfo run = CloudRunFixture.run();
        assertThatThrownBy(() -> launch(run, config(run, "{\"keep_job\": true}"))).isInstanceOf(io.pworker.spi.LaunchException.class);
        assertThat(fake.jobs()).hasSize(1);
    }

    @Test
    void releaseDeletesTheExecutionsThenTheJob() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{}");
        RunHandle h = launch(run, config);
        assertThat(terminal(watch(h, config))).isEqualTo(Phase.Exited.of(0));
        launcher.release(h, config);
        assertThat(fake.jobs()).isEmpty();
        assertThat(fake.executions()).isEmpty();
        List<String> deletes = fake.requests().stream().filter(r -> r.startsWith("DELETE")).toList();
        assertThat(deletes).hasSize(2);
        assertThat(deletes.get(0)).contains("/executions/");
        assertThat(deletes.get(1)).endsWith("/jobs/" + h.infrastructurePid());
    }

    @Test
    void keepJobKeepsJobAndExecutionsAndAKillCancelsTheExecution() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{\"keep_job\": true, \"env\": {\"FAKE_SECONDS\": \"-1\"}}");
        RunHandle h = launch(run, config);
        BlockingQueue<Phase> phases = watch(h, config);
        awaitRunning(phases);
        assertThat(launcher.kill(h, config, Duration.ofSeconds(1))).isEqualTo(io.pworker.spi.KillOutcome.KILLED);
        Phase end = terminal(phases);
        assertThat(end).isInstanceOf(Phase.Exited.class);
        assertThat(((Phase.Exited) end).status().reason()).contains("was cancelled");
        launcher.release(h, config);
        assertThat(fake.jobs()).hasSize(1);
        assertThat(fake.executions()).hasSize(1);
        assertThat(fake.requests()).noneMatch(r -> r.startsWith("DELETE"));
    }

    @Test
    void killDeletesExecutionsAndJobAndTheWatchSeesTheRunGone() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{\"env\": {\"FAKE_SECONDS\": \"-1\"}}");
        RunHandle h = launch(run, config);
        BlockingQueue<Phase> phases = watch(h, config);
        awaitRunning(phases);
        assertThat(launcher.kill(h, config, Duration.ofSeconds(1))).isEqualTo(io.pworker.spi.KillOutcome.KILLED);
        assertThat(terminal(phases)).isInstanceOf(Phase.Gone.class);
        assertThat(fake.jobs()).isEmpty();
        assertThat(launcher.kill(RunHandle.ofPid("no-such-job-1234567"), config, Duration.ofSeconds(1)))
                .isEqualTo(io.pworker.spi.KillOutcome.NOT_FOUND);
    }

    @Test
    void anExecutionDeletedFromOutsideIsGone() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{\"env\": {\"FAKE_SECONDS\": \"-1\"}}");
        RunHandle h = launch(run, config);
        BlockingQueue<Phase> phases = watch(h, config);
        awaitRunning(phases);
        fake.deleteExecutionFromOutside(exec(h));
        Phase end = terminal(phases);
        assertThat(end).isInstanceOf(Phase.Gone.class);
        assertThat(((Phase.Gone) end).reason()).contains("was deleted before it finished");
        assertThat(launcher.recover(h, config)).isInstanceOf(Phase.Gone.class);
    }

    @Test
    void aCancelledLaunchRemovesWhatItCreated() throws Exception {
        fake.createTakesPolls(100_000);
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{}");
        java.util.concurrent.CompletableFuture<Throwable> outcome = new java.util.concurrent.CompletableFuture<>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                launch(run, config);
                outcome.complete(null);
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        while (fake.jobs().isEmpty()) {
            Thread.sleep(20);
        }
        t.interrupt();
        assertThat(outcome.get(20, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(fake.jobs()).isEmpty();
    }

    @Test
    void oneTimerThreadWatchesEveryRunAndDiscoverFindsThemByLabel() throws Exception {
        List<RunHandle> handles = new ArrayList<>();
        List<BlockingQueue<Phase>> all = new ArrayList<>();
        FlowRunInfo first = null;
        for (int i = 0; i < 5; i++) {
            FlowRunInfo run = CloudRunFixture.run();
            first = first == null ? run : first;
            ObjectNode config = config(run, "{\"env\": {\"FAKE_SECONDS\": \"-1\"}}");
            RunHandle h = launch(run, config);
            handles.add(h);
            all.add(watch(h, config));
        }
        for (BlockingQueue<Phase> phases : all) {
            awaitRunning(phases);
        }
        assertThat(Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("pworker-cloudrun-poller")))
                .hasSize(1);
        var found = launcher.discover(new io.pworker.spi.InfrastructureScope(first.workPoolId(), first.workPoolName(), null));
        assertThat(found).hasSize(5).allMatch(d -> d.phase() instanceof Phase.Running);
        assertThat(found).extracting(d -> d.handle().infrastructurePid())
                .containsExactlyInAnyOrderElementsOf(handles.stream().map(RunHandle::infrastructurePid).toList());
        assertThat(launcher.discover(new io.pworker.spi.InfrastructureScope(first.workPoolId(), null, "someone-else"))).isEmpty();
    }

    @Test
    void aFreshLauncherDiscoversThePoolsJobsThroughTheScopesConfiguration() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = config(run, "{\"env\": {\"FAKE_SECONDS\": \"-1\"}}");
        RunHandle handle = launch(run, config);
        CloudRunLauncher fresh = new CloudRunLauncher(CloudRunFixture.context(Map.of(), dir), CloudRunFixture.settings(fake));
        try {
            assertThat(fresh.discover(new io.pworker.spi.InfrastructureScope(run.workPoolId(), run.workPoolName(), null)))
                    .as("nowhere to look without the pool's defaults").isEmpty();
            // the pool's defaults: its credentials block and region, nothing of the run
            ObjectNode defaults = CloudRunFixture.JSON.createObjectNode().put("region", "us-central1");
            defaults.set("credentials", credentials(KEY, fake));
            var found = fresh.discover(new io.pworker.spi.InfrastructureScope(run.workPoolId(), run.workPoolName(), null,
                    defaults));
            assertThat(found).singleElement().satisfies(d -> {
                assertThat(d.flowRunId()).isEqualTo(run.id());
                assertThat(d.handle().infrastructurePid()).isEqualTo(handle.infrastructurePid());
                assertThat(d.handle().state()).containsEntry("project", ServiceAccountKey.PROJECT);
            });
        } finally {
            fresh.close();
        }
    }

    private static void awaitRunning(BlockingQueue<Phase> phases) throws InterruptedException {
        while (true) {
            Phase p = phases.poll(20, TimeUnit.SECONDS);
            assertThat(p).as("a phase within 20 s").isNotNull();
            assertThat(p.terminal()).as("ended before running: " + p).isFalse();
            if (p instanceof Phase.Running) {
                return;
            }
        }
    }
}
