package io.pworker.aci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/** The launcher against the fake Resource Manager: failures, timeouts, keep_container_group, output, credentials. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class AciLauncherTest {

    @RegisterExtension
    final FakeAzureExtension fake = new FakeAzureExtension();

    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final List<String> runLog = new CopyOnWriteArrayList<>();
    /** What watches sent to their sink's log, and "<end>" when they reported a terminal phase. */
    private final List<String> sinkLog = new CopyOnWriteArrayList<>();
    private final List<Watch> watches = new ArrayList<>();
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private InfrastructureLauncher launcher;

    private final RunLog log = new RunLog() {
        @Override
        public void info(String message) {
            runLog.add(message);
        }

        @Override
        public void warn(String message) {
            runLog.add(message);
        }

        @Override
        public void error(String message, Throwable cause) {
            runLog.add(message + " " + cause);
        }
    };

    @BeforeEach
    void start() throws Exception {
        logged.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logged);
        launcher = launcher(Map.of());
    }

    @AfterEach
    void stop() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logged);
        watches.forEach(Watch::close);
        if (launcher != null) {
            launcher.close();
        }
    }

    private InfrastructureLauncher launcher(Map<String, String> environment) throws Exception {
        return new AciPlugin(fake.get().cloud()).create(AciTestRuns.context(environment,
                new PrintStream(console, true, StandardCharsets.UTF_8)));
    }

    private static FlowRunInfo newRun() {
        return new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, "etl", null, null, "pool", null, "w", List.of());
    }

    private record Run(FlowRunInfo info, ObjectNode configuration) {
        String group() {
            return GroupName.of(info.flowName(), info.id());
        }
    }

    private Run run(String script, String variables) {
        FlowRunInfo info = newRun();
        ObjectNode c = AciTestRuns.configuration(info, variables);
        c.putArray("command").add("sh").add("-c").add(script);
        return new Run(info, c);
    }

    private RunHandle launch(InfrastructureLauncher l, Run run) throws Exception {
        return l.launch(new LaunchRequest(run.info(), run.configuration(), log));
    }

    private Phase terminal(RunHandle h, Run run) throws Exception {
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        watches.add(launcher.watch(h, run.configuration(), new io.pworker.spi.PhaseSink() {
            @Override
            public void report(Phase phase) {
                if (phase.terminal()) {
                    sinkLog.add("<end>");
                }
                phases.add(phase);
            }

            @Override
            public void log(String message) {
                sinkLog.add(message);
            }
        }));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Phase p = phases.poll(200, TimeUnit.MILLISECONDS);
            if (p != null && p.terminal()) {
                return p;
            }
        }
        throw new AssertionError("no terminal phase");
    }

    private String everythingShown() {
        StringBuilder out = new StringBuilder(console.toString(StandardCharsets.UTF_8)).append(runLog).append(sinkLog);
        logged.list.forEach(e -> out.append(e.getFormattedMessage()).append(e.getThrowableProxy() == null ? ""
                : e.getThrowableProxy().getMessage()));
        return out.toString();
    }

    @Test
    void aFailedDeploymentIsALaunchFailureWithArmsOwnMessage() throws Exception {
        Run r = run("true", "{\"image\": \"pworker-test/not-there:1\"}");
        assertThatThrownBy(() -> launch(launcher, r)).isInstanceOf(LaunchException.class)
                .hasMessageContaining("Container creation failed for group '" + r.group() + "'")
                .hasMessageContaining("InaccessibleImage: The image 'pworker-test/not-there:1' in container group");
        assertThat(fake.get().exists(r.group())).isFalse();
    }

    @Test
    void aDeploymentRefusedForQuotaSaysSo() throws Exception {
        fake.get().refuseNextDeployment = new Object[] {409, "ContainerGroupQuotaReached",
                "Resource type 'Microsoft.ContainerInstance/containerGroups' has reached its quota of 100 in region 'westeurope'."};
        Run r = run("true", "{}");
        assertThatThrownBy(() -> launch(launcher, r)).isInstanceOf(LaunchException.class)
                .hasMessage("Azure refused the deployment of container group '" + r.group() + "': ContainerGroupQuotaReached: "
                        + "Resource type 'Microsoft.ContainerInstance/containerGroups' has reached its quota of 100 in region 'westeurope'.");
    }

    @Test
    void aDeploymentThatDoesNotFinishInTimeIsCancelled() throws Exception {
        fake.get().holdDeployments = true;
        Run r = run("true", "{\"task_start_timeout_seconds\": 1}");
        long start = System.nanoTime();
        assertThatThrownBy(() -> launch(launcher, r)).isInstanceOf(LaunchException.class)
                .hasMessageStartingWith("Timed out after 1 s waiting for container group '" + r.group() + "' to start");
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(15);
        assertThat(fake.get().requests).anyMatch(q -> q.startsWith("POST ") && q.contains("/deployments/prefect-" + r.group() + "/cancel"));
    }

    /** Launches on another thread; the future holds the handle or what was thrown. */
    private CompletableFuture<Object> launchAsync(InfrastructureLauncher l, Run r) {
        CompletableFuture<Object> outcome = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                outcome.complete(launch(l, r));
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        return outcome;
    }

    private long deploymentPuts(Run r) {
        return fake.get().requests.stream()
                .filter(q -> q.startsWith("PUT ") && q.contains("/deployments/prefect-" + r.group() + "?")).count();
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    @Test
    void aRelaunchDuringTheFirstDeploymentWaitsForItAndAdoptsItsGroup() throws Exception {
        fake.get().holdDeployments = true;
        Run r = run("sleep 1", "{}");
        CompletableFuture<Object> first = launchAsync(launcher, r);
        awaitTrue(() -> deploymentPuts(r) == 1, "the first deployment");
        // the same run launched again, as by a worker restarted while the first deployment runs
        InfrastructureLauncher again = launcher(Map.of());
        try {
            CompletableFuture<Object> second = launchAsync(again, r);
            awaitTrue(() -> deploymentPuts(r) == 2, "the second deployment, refused as DeploymentActive");
            Thread.sleep(500);
            assertThat(second).as("the relaunch waits for the running deployment").isNotDone();
            assertThat(first).isNotDone();
            fake.get().holdDeployments = false;
            Object handle = second.get(30, TimeUnit.SECONDS);
            assertThat(handle).isInstanceOf(RunHandle.class).isEqualTo(first.get(30, TimeUnit.SECONDS));
            assertThat(((RunHandle) handle).state()).containsEntry("container_group", r.group());
            assertThat(fake.get().exists(r.group())).isTrue();
            assertThat(fake.get().groupCount()).as("no second group").isEqualTo(1);
            assertThat(fake.get().deploymentBodies).as("one deployment accepted").hasSize(1);
            assertThat(runLog).anyMatch(l -> l.contains("is still running; waiting for it instead of deploying again"));
            assertThat(terminal((RunHandle) handle, r)).as("the adopted group runs the flow once, to its end")
                    .isEqualTo(Phase.Exited.of(0));
        } finally {
            again.close();
        }
    }

    @Test
    void aRelaunchDuringADeploymentThatFailsFailsWithArmsMessageAndLeavesNothing() throws Exception {
        fake.get().holdDeployments = true;
        fake.get().failNextDeployment = new String[] {"InaccessibleImage", "The image 'x' is not accessible."};
        Run r = run("true", "{}");
        CompletableFuture<Object> first = launchAsync(launcher, r);
        awaitTrue(() -> deploymentPuts(r) == 1, "the first deployment");
        InfrastructureLauncher again = launcher(Map.of());
        try {
            CompletableFuture<Object> second = launchAsync(again, r);
            awaitTrue(() -> deploymentPuts(r) == 2, "the second deployment, refused as DeploymentActive");
            fake.get().holdDeployments = false;
            assertThat(second.get(30, TimeUnit.SECONDS)).isInstanceOf(LaunchException.class)
                    .asString().contains("Container creation failed for group '" + r.group() + "'")
                    .contains("InaccessibleImage: The image 'x' is not accessible.");
            assertThat(first.get(30, TimeUnit.SECONDS)).isInstanceOf(LaunchException.class);
            assertThat(fake.get().groupCount()).isZero();
        } finally {
            again.close();
        }
    }

    @Test
    void aRelaunchWaitsForTheRunningDeploymentAtMostTheStartTimeout() throws Exception {
        fake.get().holdDeployments = true;
        Run r = run("true", "{\"task_start_timeout_seconds\": 60}");
        CompletableFuture<Object> first = launchAsync(launcher, r);
        awaitTrue(() -> deploymentPuts(r) == 1, "the first deployment");
        ((ObjectNode) r.configuration()).put("task_start_timeout_seconds", 1);
        InfrastructureLauncher again = launcher(Map.of());
        try {
            long start = System.nanoTime();
            assertThatThrownBy(() -> launch(again, r)).isInstanceOf(LaunchException.class)
                    .hasMessageStartingWith("Timed out after 1 s waiting for container group '" + r.group() + "' to start");
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(15);
            assertThat(fake.get().requests).anyMatch(q -> q.startsWith("POST ")
                    && q.contains("/deployments/prefect-" + r.group() + "/cancel"));
            assertThat(first.get(30, TimeUnit.SECONDS)).as("the first launch sees its deployment cancelled")
                    .isInstanceOf(LaunchException.class);
            assertThat(fake.get().groupCount()).isZero();
        } finally {
            again.close();
        }
    }

    @Test
    void anInterruptedLaunchStopsWaitingPromptly() throws Exception {
        fake.get().holdDeployments = true;
        Run r = run("true", "{\"task_start_timeout_seconds\": 120}");
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                launch(launcher, r);
                outcome.complete(null);
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        Thread.sleep(1500);
        t.interrupt();
        assertThat(outcome.get(20, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
    }

    @Test
    void aTemplateWithTwoContainersIsRefusedAndItsGroupDeleted() throws Exception {
        Run r = run("true", "{}");
        ObjectNode containers = (ObjectNode) r.configuration().path("arm_template").path("resources").path(0).path("properties");
        containers.withArray("containers").add(containers.path("containers").path(0).deepCopy());
        ((ObjectNode) containers.path("containers").path(1)).put("name", "sidecar");
        assertThatThrownBy(() -> launch(launcher, r)).isInstanceOf(LaunchException.class)
                .hasMessageContaining("has 2 containers; the ARM template must define exactly one");
        assertThat(fake.get().exists(r.group())).isFalse();
    }

    @Test
    void keepContainerGroupStopsTheGroupInsteadOfDeletingIt() throws Exception {
        Run r = run("sleep 300", "{}");
        r.configuration().put("keep_container_group", true);
        RunHandle h = launch(launcher, r);
        assertThat(h.infrastructurePid()).isEqualTo(r.info().id() + ":" + r.group());
        assertThat(launcher.kill(h, r.configuration(), Duration.ofSeconds(5))).isEqualTo(KillOutcome.KILLED);
        assertThat(terminal(h, r)).isNotEqualTo(Phase.Exited.of(0));
        launcher.release(h, r.configuration());
        assertThat(fake.get().exists(r.group())).isTrue();
        assertThat(fake.get().stopped(r.group())).isTrue();
        assertThat(fake.get().requests).noneMatch(q -> q.startsWith("DELETE "));
    }

    @Test
    void releaseDeletesTheGroupOfAFinishedRun() throws Exception {
        Run r = run("exit 0", "{}");
        RunHandle h = launch(launcher, r);
        assertThat(terminal(h, r)).isEqualTo(Phase.Exited.of(0));
        launcher.release(h, r.configuration());
        assertThat(fake.get().exists(r.group())).isFalse();
    }

    @Test
    void streamedOutputReachesTheConsoleOnceAndExplainsACrash() throws Exception {
        Run r = run("echo one; sleep 1; echo two; exit 3", "{\"stream_output\": true}");
        RunHandle h = launch(launcher, r);
        Phase end = terminal(h, r);
        assertThat(end).isInstanceOf(Phase.Exited.class);
        assertThat(((Phase.Exited) end).status().code()).isEqualTo(3);
        assertThat(((Phase.Exited) end).status().reason()).contains("one | two");
        String out = console.toString(StandardCharsets.UTF_8);
        assertThat(out.split("\\[" + r.group() + "] one", -1)).hasSize(2);
        assertThat(out.split("\\[" + r.group() + "] two", -1)).hasSize(2);
        assertThat(sinkLog).as("the run's log gets each line once, before the end").containsExactly("one", "two", "<end>");
    }

    @Test
    void withoutStreamOutputNothingGoesToTheRunsLog() throws Exception {
        Run r = run("echo quiet; exit 0", "{}");
        assertThat(terminal(launch(launcher, r), r)).isEqualTo(Phase.Exited.of(0));
        assertThat(sinkLog).containsExactly("<end>");
    }

    @Test
    void aFreshLauncherDiscoversThePoolsGroupsByTagThroughTheScopesConfiguration() throws Exception {
        FlowRunInfo info = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, "etl", null, null, "pool",
                "0b6c1b9e-0000-4000-8000-0000000000aa", "aci worker 1", List.of());
        ObjectNode c = AciTestRuns.configuration(info, "{}");
        c.putArray("command").add("sh").add("-c").add("sleep 30");
        RunHandle h = launch(launcher, new Run(info, c));

        InfrastructureLauncher fresh = launcher(Map.of());
        try {
            var scope = new io.pworker.spi.InfrastructureScope(info.workPoolId(), "pool", null);
            assertThat(fresh.discover(scope)).as("nowhere to look without the pool's defaults").isEmpty();
            // the pool's defaults: subscription, resource group and credentials, nothing of the run
            ObjectNode defaults = AciTestRuns.JSON.createObjectNode().put("subscription_id", "sub-0001")
                    .put("resource_group_name", "rg-flows");
            defaults.set("aci_credentials", c.get("aci_credentials"));
            scope = new io.pworker.spi.InfrastructureScope(info.workPoolId(), "pool", null, defaults);
            assertThat(fresh.discover(scope)).singleElement().satisfies(d -> {
                assertThat(d.flowRunId()).isEqualTo(info.id());
                assertThat(d.handle().infrastructurePid()).isEqualTo(h.infrastructurePid());
                assertThat(d.phase().terminal()).isFalse();
            });
            assertThat(fresh.discover(new io.pworker.spi.InfrastructureScope(info.workPoolId(), "pool", "another worker",
                    defaults))).isEmpty();
            assertThat(fresh.discover(new io.pworker.spi.InfrastructureScope("another-pool", "x", null, defaults))).isEmpty();
        } finally {
            fresh.close();
        }
    }

    @Test
    void throttledReadsAreRetriedAfterTheirRetryAfter() throws Exception {
        Run r = run("exit 0", "{}");
        RunHandle h = launch(launcher, r);
        fake.get().throttleGroupReads.set(2);
        assertThat(terminal(h, r)).isEqualTo(Phase.Exited.of(0));
        assertThat(fake.get().throttled.get()).isEqualTo(2);
    }

    @Test
    void aServicePrincipalGetsItsTokenAndItsSecretIsNeverShown() throws Exception {
        Run r = run("echo hello; exit 2", "{\"stream_output\": true}");
        RunHandle h = launch(launcher, r);
        terminal(h, r);
        assertThat(fake.get().tokenRequests).isNotEmpty().allSatisfy(form -> {
            assertThat(form).containsEntry("client_id", AciTestRuns.CLIENT_ID)
                    .containsEntry("client_secret", AciTestRuns.CLIENT_SECRET).containsEntry("tenant", FakeAzure.TENANT)
                    .containsKey("scope");
            assertThat(form.get("scope").split(" ")).contains(fake.get().baseUrl() + ".default");
        });
        // the API key went as a secure value, which ACI never returns
        assertThat(fake.get().container(r.group()).getConfig().getEnv()).contains("PREFECT_API_KEY=" + AciTestRuns.API_KEY);
        assertThat(everythingShown()).contains("hello").doesNotContain(AciTestRuns.CLIENT_SECRET)
                .doesNotContain(AciTestRuns.API_KEY);
    }

    @Test
    void withoutABlockTheDefaultCredentialChainReadsTheWorkersEnvironment() throws Exception {
        launcher.close();
        launcher = launcher(Map.of("AZURE_CLIENT_ID", "env-client", "AZURE_TENANT_ID", FakeAzure.TENANT,
                "AZURE_CLIENT_SECRET", "env-secret-91ab"));
        Run r = run("exit 0", "{\"aci_credentials\": null}");
        RunHandle h = launch(launcher, r);
        assertThat(terminal(h, r)).isEqualTo(Phase.Exited.of(0));
        assertThat(fake.get().tokenRequests).isNotEmpty().allSatisfy(form ->
                assertThat(form).containsEntry("client_id", "env-client").containsEntry("client_secret", "env-secret-91ab"));
        assertThat(everythingShown()).doesNotContain("env-secret-91ab");
    }
}
