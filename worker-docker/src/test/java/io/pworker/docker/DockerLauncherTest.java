package io.pworker.docker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import io.pworker.spi.Discovered;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import io.pworker.testkit.DockerTestEngine;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The docker launcher against a real engine, for what is Docker's own (the SPI's common ground is in
 * {@link DockerLauncherContractTest}): what reaches the container, names, adoption, auto_remove, pulls, the shared
 * event stream, a lost engine.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DockerLauncherTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private DockerTestEngine engine;
    private DockerLauncher launcher;
    private final List<DockerLauncher> others = new ArrayList<>();
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final List<RunHandle> handles = new CopyOnWriteArrayList<>();
    private final List<Watch> watches = new CopyOnWriteArrayList<>();
    private final String runId = UUID.randomUUID().toString();
    /** Container names are the engine's, shared with whatever else runs there: each test has its own. */
    private final String name = "tidy-otter-" + runId.substring(0, 8);

    private final RunLog runLog = new RunLog() {
        @Override
        public void info(String message) {
            log.add("INFO " + message);
        }

        @Override
        public void warn(String message) {
            log.add("WARN " + message);
        }

        @Override
        public void error(String message, Throwable cause) {
            log.add("ERROR " + message);
        }
    };

    @BeforeEach
    void connect() throws Exception {
        engine = DockerTestEngine.get();
        launcher = DockerLauncher.connect(context(Map.of("DOCKER_HOST", engine.host())));
    }

    @AfterEach
    void cleanUp() {
        watches.forEach(Watch::close);
        if (launcher == null) {
            return;
        }
        for (RunHandle h : handles) {
            try {
                engine.client().removeContainerCmd(h.state().get("container_id")).withForce(true).exec();
            } catch (RuntimeException ignored) {
                // removed by the test
            }
            launcher.release(h, null);
        }
        others.forEach(DockerLauncher::close);
        launcher.close();
    }

    private PluginContext context(Map<String, String> env) {
        return new PluginContext("w", env, new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC(),
                Path.of(System.getProperty("java.io.tmpdir")));
    }

    private DockerLauncher another() throws Exception {
        DockerLauncher l = DockerLauncher.connect(context(Map.of("DOCKER_HOST", engine.host())));
        others.add(l);
        return l;
    }

    /** A configuration as the core renders it from the default template, with the given overrides. */
    private ObjectNode config(String run, String overrides) throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree("""
                {"image": "%s", "image_pull_policy": "Never", "command": null, "env": {}, "labels": {
                  "prefect.io/flow-run-id": "%s", "prefect.io/version": "3.4.25"}, "name": "%s",
                 "networks": [], "network_mode": null, "auto_remove": false, "volumes": [], "stream_output": false,
                 "mem_limit": null, "memswap_limit": null, "privileged": false, "registry_credentials": null}
                """.formatted(DockerTestEngine.IMAGE, run, name));
        c.setAll((ObjectNode) JSON.readTree(overrides));
        return c;
    }

    private RunHandle launch(String overrides) throws Exception {
        return launch(launcher, runId, overrides);
    }

    private RunHandle launch(DockerLauncher l, String run, String overrides) throws Exception {
        RunHandle h = l.launch(new LaunchRequest(new FlowRunInfo(run, "tidy-otter", null, "etl", null, null, "pool",
                null, "w", List.of()), config(run, overrides), runLog));
        handles.add(h);
        return h;
    }

    private BlockingQueue<Phase> watch(DockerLauncher l, RunHandle h) throws Exception {
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        watches.add(l.watch(h, null, phases::add));
        return phases;
    }

    private static Phase awaitEnd(BlockingQueue<Phase> phases, Duration patience) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        while (System.nanoTime() < deadline) {
            Phase p = phases.poll(100, TimeUnit.MILLISECONDS);
            if (p != null && p.terminal()) {
                return p;
            }
        }
        throw new AssertionError("no terminal phase within " + patience);
    }

    private Phase awaitEnd(DockerLauncher l, RunHandle h) throws Exception {
        return awaitEnd(watch(l, h), Duration.ofSeconds(60));
    }

    private ExitStatus awaitExit(DockerLauncher l, RunHandle h) throws Exception {
        Phase end = awaitEnd(l, h);
        assertThat(end).isInstanceOf(Phase.Exited.class);
        return ((Phase.Exited) end).status();
    }

    private static void awaitRunning(BlockingQueue<Phase> phases) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Phase p = phases.poll(100, TimeUnit.MILLISECONDS);
            if (p instanceof Phase.Running) {
                return;
            }
            assertThat(p == null || !p.terminal()).as("ended before running: %s", p).isTrue();
        }
        throw new AssertionError("not running within 60 s");
    }

    private InspectContainerResponse inspect(RunHandle h) {
        return engine.client().inspectContainerCmd(h.state().get("container_id")).exec();
    }

    private List<Container> containersOf(String run) {
        return engine.client().listContainersCmd().withShowAll(true)
                .withLabelFilter(Map.of("io.prefect.flow-run-id", run)).exec();
    }

    private boolean exists(String id) {
        try {
            engine.client().inspectContainerCmd(id).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }

    /** docker-java starts one platform thread per open stream (events, attach, pull). */
    private static long dockerJavaThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("docker-java-stream")).count();
    }

    // ---- what reaches the container ----

    @Test
    void theExitCodeIsReportedEvenWithoutStreamedOutput() throws Exception {
        RunHandle ok = launch(launcher, UUID.randomUUID().toString(), "{\"command\": \"true\", \"name\": \"" + name + "-ok\"}");
        RunHandle five = launch("{\"command\": \"sh -c 'sleep 0.3; exit 5'\"}");
        assertThat(awaitExit(launcher, ok).code()).isZero();
        assertThat(awaitExit(launcher, five).code()).isEqualTo(5);
        assertThat(ok.infrastructurePid()).matches("http\\+docker://localhost:[0-9a-f]{64}");
    }

    @Test
    void statusChangesBecomePrefectsContainerEventsBeforeTheEnd() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'sleep 1; exit 4'\"}");
        io.pworker.testkit.RecordingSink sink = new io.pworker.testkit.RecordingSink();
        List<Object> seen = sink.seen();
        BlockingQueue<Phase> phases = sink.phases();
        watches.add(launcher.watch(h, null, sink));
        Phase end = awaitEnd(phases, Duration.ofSeconds(60));
        List<InfrastructureEvent> events = seen.subList(0, seen.indexOf(end)).stream()
                .filter(InfrastructureEvent.class::isInstance).map(InfrastructureEvent.class::cast).toList();
        assertThat(events).extracting(InfrastructureEvent::name)
                .containsExactly("prefect.docker.container.running", "prefect.docker.container.exited");
        String id = h.state().get("container_id");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.resourceId()).isEqualTo("prefect.docker.container." + id);
            assertThat(e.labels()).containsEntry("prefect.resource.name", name);
        });
        assertThat(events.getLast().occurred()).isNotNull();
    }

    @Test
    void jobVariablesReachTheContainer() throws Exception {
        Files.writeString(dir.resolve("input.txt"), "from the host\n");
        RunHandle h = launch("""
                {"command": "sh -c 'cat /data/input.txt > /data/output.txt; echo $GREETING >> /data/output.txt'",
                 "env": {"GREETING": "hello container", "PREFECT__FLOW_RUN_ID": "%s"},
                 "labels": {"prefect.io/flow-run-id": "%s", "team": "data", "com.example/owner": "ops"},
                 "volumes": ["%s:/data:rw"], "mem_limit": "64m", "memswap_limit": "128m", "privileged": false}
                """.formatted(runId, runId, dir));
        assertThat(awaitExit(launcher, h).code()).isZero();
        InspectContainerResponse c = inspect(h);
        assertThat(c.getConfig().getEnv()).contains("GREETING=hello container", "PREFECT__FLOW_RUN_ID=" + runId);
        assertThat(c.getConfig().getLabels()).containsEntry("io.prefect.flow-run-id", runId)
                .containsEntry("team", "data").containsEntry("example.com.owner", "ops");
        assertThat(c.getConfig().getCmd()).containsExactly("sh", "-c",
                "cat /data/input.txt > /data/output.txt; echo $GREETING >> /data/output.txt");
        assertThat(c.getHostConfig().getMemory()).isEqualTo(64L * 1024 * 1024);
        assertThat(c.getHostConfig().getMemorySwap()).isEqualTo(128L * 1024 * 1024);
        assertThat(c.getHostConfig().getAutoRemove()).isFalse();
        assertThat(c.getName()).isEqualTo("/" + name);
        assertThat(Files.readString(dir.resolve("output.txt"))).isEqualTo("from the host\nhello container\n");
    }

    @Test
    void aNameInUseByAnotherRunGetsANumberedSuffix() throws Exception {
        String busy = "{\"command\": \"sleep 30\", \"name\": \"busy name! " + runId.substring(0, 8) + "\"}";
        RunHandle first = launch(busy);
        RunHandle second = launch(launcher, UUID.randomUUID().toString(), busy);
        assertThat(inspect(first).getName()).isEqualTo("/busy-name-" + runId.substring(0, 8));
        assertThat(inspect(second).getName()).isEqualTo("/busy-name-" + runId.substring(0, 8) + "-1");
    }

    // ---- one container per run ----

    @Test
    void aRetriedLaunchAdoptsTheRunsContainerInsteadOfMakingANumberedOne() throws Exception {
        launch(launcher, UUID.randomUUID().toString(), "{\"command\": \"sleep 30\"}"); // another run holds the name
        String retried = UUID.randomUUID().toString();
        RunHandle first = launch(launcher, retried, "{\"command\": \"sleep 30\"}");
        assertThat(inspect(first).getName()).isEqualTo("/" + name + "-1");

        RunHandle again = launch(another(), retried, "{\"command\": \"sleep 30\"}");
        assertThat(again.infrastructurePid()).isEqualTo(first.infrastructurePid());
        assertThat(containersOf(retried)).hasSize(1);
        assertThat(engine.client().listContainersCmd().withShowAll(true).withNameFilter(List.of(name + "-2")).exec()).isEmpty();
        assertThat(log).anyMatch(l -> l.contains("Found container '" + name + "-1'") && l.contains("instead of creating another"));
    }

    @Test
    void aContainerCreatedButNeverStartedByAnEarlierLaunchIsStartedAndUsed() throws Exception {
        // what a worker that crashed between create and start leaves behind
        String id = engine.client().createContainerCmd(DockerTestEngine.IMAGE).withCmd("sh", "-c", "exit 7").withName("left-behind-"
                + runId.substring(0, 8)).withLabels(Map.of("io.prefect.flow-run-id", runId)).exec().getId();
        RunHandle h = launch("{\"command\": \"sh -c 'exit 1'\"}");
        assertThat(h.state()).containsEntry("container_id", id);
        assertThat(awaitExit(launcher, h).code()).isEqualTo(7);
        assertThat(containersOf(runId)).hasSize(1);
    }

    // ---- kill and release ----

    @Test
    void killStopsAContainerWhosePid1IgnoresSigtermWithinTheGracePeriod() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'trap \\\"\\\" TERM; while true; do sleep 1; done'\"}");
        BlockingQueue<Phase> phases = watch(launcher, h);
        awaitRunning(phases);
        Thread.sleep(300); // let the shell install its trap
        long start = System.nanoTime();
        assertThat(launcher.kill(h, null, Duration.ofSeconds(2))).isEqualTo(KillOutcome.KILLED);
        Phase end = awaitEnd(phases, Duration.ofSeconds(30));
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(end).isEqualTo(Phase.Exited.of(137)); // no "killed outside the worker": the worker did it
        assertThat(tookMillis).isBetween(1_500L, 12_000L);
        // stopped, not removed: its exit code stays readable; a second kill finds nothing left to stop
        assertThat(inspect(h).getState().getExitCodeLong()).isEqualTo(137L);
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
        engine.client().removeContainerCmd(h.state().get("container_id")).exec();
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    @Test
    void autoRemoveHappensAtReleaseSoARestartedWorkerStillReadsTheExitCode() throws Exception {
        ObjectNode configuration = config(runId, "{\"command\": \"sh -c 'exit 3'\", \"auto_remove\": true}");
        RunHandle h = launch("{\"command\": \"sh -c 'exit 3'\", \"auto_remove\": true}");
        assertThat(awaitExit(launcher, h).code()).isEqualTo(3);
        assertThat(inspect(h).getHostConfig().getAutoRemove()).isFalse();

        // a worker that restarted knows only the infrastructure_pid
        DockerLauncher restarted = another();
        RunHandle pidOnly = RunHandle.ofPid(h.infrastructurePid());
        assertThat(restarted.recover(pidOnly, configuration)).isEqualTo(Phase.Exited.of(3));
        restarted.release(pidOnly, configuration);
        assertThat(exists(h.state().get("container_id"))).isFalse();
        assertThat(restarted.recover(pidOnly, configuration)).isInstanceOf(Phase.Gone.class);
    }

    @Test
    void releaseNeverRemovesARunningContainerNorOneTheConfigurationKeeps() throws Exception {
        RunHandle running = launch("{\"command\": \"sleep 30\", \"auto_remove\": true}");
        awaitRunning(watch(launcher, running));
        launcher.release(running, config(runId, "{\"auto_remove\": true}"));
        assertThat(inspect(running).getState().getRunning()).isTrue();

        RunHandle kept = launch(launcher, UUID.randomUUID().toString(), "{\"command\": \"true\", \"name\": \"" + name + "-kept\"}");
        assertThat(awaitExit(launcher, kept).code()).isZero();
        launcher.release(kept, config(runId, "{\"auto_remove\": false}"));
        assertThat(exists(kept.state().get("container_id"))).isTrue();
    }

    @Test
    void killThenReleaseWithAutoRemoveLeavesNoContainer() throws Exception {
        RunHandle h = launch("{\"command\": \"sleep 60\", \"auto_remove\": true}");
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.KILLED);
        assertThat(exists(h.state().get("container_id"))).isTrue();
        launcher.release(h, null);
        assertThat(exists(h.state().get("container_id"))).isFalse();
    }

    @Test
    void aContainerOnAnotherEngineIsNotOurs() throws Exception {
        RunHandle foreign = new RunHandle("http://10.0.0.9:2375:" + "a".repeat(64), Map.of());
        assertThat(launcher.kill(foreign, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_AVAILABLE);
        assertThatThrownBy(() -> launcher.watch(foreign, null, p -> { })).isInstanceOf(InfrastructureException.class)
                .hasMessageContaining("another Docker engine");
        assertThatThrownBy(() -> launcher.recover(foreign, null)).isInstanceOf(InfrastructureException.class);
        RunHandle missing = RunHandle.ofPid("http+docker://localhost:" + "b".repeat(64));
        assertThat(launcher.kill(missing, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    // ---- how it ended ----

    @Test
    void aContainerRemovedFromOutsideIsReportedAsDisappeared() throws Exception {
        RunHandle h = launch("{\"command\": \"sleep 60\"}");
        BlockingQueue<Phase> phases = watch(launcher, h);
        awaitRunning(phases);
        engine.client().removeContainerCmd(h.state().get("container_id")).withForce(true).exec();
        Phase end = awaitEnd(phases, Duration.ofSeconds(30));
        assertThat(end).isInstanceOf(Phase.Gone.class);
        assertThat(((Phase.Gone) end).reason()).contains("disappeared").contains(name);
    }

    @Test
    void aContainerKilledFromOutsideIsReportedAsSuch() throws Exception {
        RunHandle h = launch("{\"command\": \"sleep 60\"}");
        BlockingQueue<Phase> phases = watch(launcher, h);
        awaitRunning(phases);
        engine.client().killContainerCmd(h.state().get("container_id")).exec();
        ExitStatus status = ((Phase.Exited) awaitEnd(phases, Duration.ofSeconds(30))).status();
        assertThat(status.code()).isEqualTo(137);
        assertThat(status.reason()).contains("stopped or killed outside the worker (SIGKILL)");
    }

    @Test
    void aContainerKilledForMemorySaysToRaiseTheLimit() throws Exception {
        // the shell keeps random bytes in a variable until the kernel kills it (NULs would be dropped)
        RunHandle h = launch("{\"command\": [\"sh\", \"-c\", \"a=$(cat /dev/urandom)\"], \"mem_limit\": \"8m\","
                + " \"memswap_limit\": \"8m\"}");
        ExitStatus status = ((Phase.Exited) awaitEnd(watch(launcher, h), Duration.ofSeconds(30))).status();
        assertThat(status.code()).isEqualTo(137);
        assertThat(status.reason()).contains("killed by the kernel for running out of memory; consider raising mem_limit");
    }

    @Test
    void aContainerThatEndsAtOnceStillReportsItsCodeAndAllItsOutput() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'echo last words; exit 3'\", \"auto_remove\": true,"
                + " \"stream_output\": true, \"name\": \"brief-" + runId.substring(0, 8) + "\"}");
        ExitStatus status = awaitExit(launcher, h);
        assertThat(status.code()).isEqualTo(3);
        assertThat(status.reason()).isNull();
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("[brief-" + runId.substring(0, 8) + "] last words");
    }

    @Test
    void streamedOutputIsPrefixedWithTheContainerName() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'echo one; echo two >&2; printf three'\", \"stream_output\": true}");
        assertThat(awaitExit(launcher, h).code()).isZero();
        String out = console.toString(StandardCharsets.UTF_8);
        assertThat(Arrays.asList(out.split("\n"))).contains("[" + name + "] one", "[" + name + "] two", "[" + name + "] three");
    }

    // ---- watching ----

    @Test
    void oneEventStreamServesManyWatches() throws Exception {
        int runs = 20;
        long before = dockerJavaThreads();
        List<RunHandle> started = new ArrayList<>();
        List<BlockingQueue<Phase>> phases = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            // each waits for the gate file, then exits with its own code
            RunHandle h = launch(launcher, UUID.randomUUID().toString(), "{\"name\": \"" + name + "-many-" + i + "\", \"volumes\": [\""
                    + dir + ":/gate\"], \"command\": [\"sh\", \"-c\", \"while [ ! -e /gate/go ]; do sleep 0.2; done; exit "
                    + (10 + i) + "\"]}");
            started.add(h);
            phases.add(watch(launcher, h));
        }
        for (BlockingQueue<Phase> p : phases) {
            awaitRunning(p);
        }
        long during = dockerJavaThreads();
        System.out.printf("docker-java stream threads: %d before, %d while %d containers are watched; platform threads %d%n",
                before, during, runs, Thread.getAllStackTraces().size());
        assertThat(during - before).as("one event stream for all watches").isLessThanOrEqualTo(1);
        Files.writeString(dir.resolve("go"), "");
        for (int i = 0; i < runs; i++) {
            assertThat(awaitEnd(phases.get(i), Duration.ofSeconds(60))).isEqualTo(Phase.Exited.of(10 + i));
        }
        watches.forEach(Watch::close);
        await(Duration.ofSeconds(10), () -> dockerJavaThreads() <= before, "the event stream closes when nothing is watched");
    }

    @Test
    void aWatchOfAContainerThatEndedBeforeItReportsTheEndAtOnce() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'exit 6'\"}");
        await(Duration.ofSeconds(30), () -> !inspect(h).getState().getRunning(), "container ended");
        assertThat(awaitEnd(watch(another(), RunHandle.ofPid(h.infrastructurePid())), Duration.ofSeconds(10)))
                .isEqualTo(Phase.Exited.of(6));
    }

    @Test
    void anEngineThatGoesAwayWhileWatchedEndsTheWatchAsGone() throws Exception {
        try (SocketProxy proxy = SocketProxy.toUnixSocket(Path.of(engine.host().substring("unix://".length())))) {
            DockerLauncher viaTcp = DockerLauncher.connect(context(Map.of("DOCKER_HOST", "tcp://127.0.0.1:" + proxy.port())),
                    Duration.ofSeconds(3));
            others.add(viaTcp);
            RunHandle h = launch(viaTcp, runId, "{\"command\": \"sleep 60\", \"name\": \"via-tcp-" + runId.substring(0, 8) + "\"}");
            assertThat(h.infrastructurePid()).startsWith("http://127.0.0.1:" + proxy.port() + ":");
            BlockingQueue<Phase> phases = watch(viaTcp, h);
            awaitRunning(phases);
            proxy.close();
            long start = System.nanoTime();
            Phase end = awaitEnd(phases, Duration.ofSeconds(30));
            assertThat(end).isInstanceOf(Phase.Gone.class);
            assertThat(((Phase.Gone) end).reason())
                    .startsWith("The worker lost track of the flow run's infrastructure: lost the Docker engine")
                    .contains("via-tcp-" + runId.substring(0, 8));
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isBetween(2L, 15L);
        }
    }

    @Test
    void discoverFindsThePoolsContainersWithTheirRunsAndPhases() throws Exception {
        String pool = UUID.randomUUID().toString();
        String running = UUID.randomUUID().toString();
        String ended = UUID.randomUUID().toString();
        String elsewhere = UUID.randomUUID().toString();
        String labels = "\"labels\": {\"prefect.io/flow-run-id\": \"%s\", \"prefect.io/work-pool-id\": \"%s\","
                + " \"prefect.io/worker-name\": \"%s\"}";
        launch(launcher, running, "{\"command\": \"sleep 30\", \"name\": \"" + name + "-d1\", " + labels.formatted(running, pool, "w1") + "}");
        RunHandle e = launch(launcher, ended, "{\"command\": \"sh -c 'exit 2'\", \"name\": \"" + name + "-d2\", "
                + labels.formatted(ended, pool, "w2") + "}");
        launch(launcher, elsewhere, "{\"command\": \"true\", \"name\": \"" + name + "-d3\", "
                + labels.formatted(elsewhere, UUID.randomUUID(), "w1") + "}");
        awaitExit(launcher, e);

        Map<String, Phase> all = another().discover(new InfrastructureScope(pool, "pool", null)).stream()
                .collect(Collectors.toMap(Discovered::flowRunId, Discovered::phase));
        assertThat(all).containsOnlyKeys(running, ended);
        assertThat(all.get(ended)).isEqualTo(Phase.Exited.of(2));
        assertThat(all.get(running)).isInstanceOfAny(Phase.Running.class, Phase.Pending.class);
        List<Discovered> mine = launcher.discover(new InfrastructureScope(pool, "pool", "w1"));
        assertThat(mine).singleElement().satisfies(d -> {
            assertThat(d.flowRunId()).isEqualTo(running);
            assertThat(d.handle().infrastructurePid()).isEqualTo(handles.getFirst().infrastructurePid());
        });
    }

    // ---- pulls ----

    @Test
    void alwaysPullingFromAnUnreachableRegistryFailsTheLaunchWithTheRegistryError() {
        assertThatThrownBy(() -> launch("{\"image\": \"127.0.0.1:1/nope:1\", \"image_pull_policy\": \"Always\"}"))
                .isInstanceOf(LaunchException.class)
                .hasMessageContaining("cannot pull image '127.0.0.1:1/nope:1'")
                .hasMessageContaining("127.0.0.1:1");
    }

    @Test
    void anInterruptDuringASlowPullStopsItAndLeavesNothingBehind() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            // a registry that accepts connections and never says a word
            List<Socket> accepted = new CopyOnWriteArrayList<>();
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept());
                    }
                } catch (IOException closed) {
                    // test over
                }
            });
            long before = dockerJavaThreads();
            String image = "127.0.0.1:" + silent.getLocalPort() + "/flows:1";
            CompletableFuture<Throwable> outcome = new CompletableFuture<>();
            Thread launching = Thread.ofVirtual().start(() -> {
                try {
                    launch("{\"image\": \"" + image + "\", \"image_pull_policy\": \"Always\"}");
                    outcome.complete(null);
                } catch (Throwable t) {
                    outcome.complete(t);
                }
            });
            await(Duration.ofSeconds(20), () -> !accepted.isEmpty(), "the engine calls the registry");
            long start = System.nanoTime();
            launching.interrupt();
            assertThat(outcome.get(10, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(3_000);
            assertThat(containersOf(runId)).isEmpty();
            await(Duration.ofSeconds(10), () -> dockerJavaThreads() <= before, "the pull's stream thread ends");
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void ifPossibleFallsBackToTheLocalImageWhenThePullFails() throws Exception {
        String local = "127.0.0.1:1/pworker-test:local";
        engine.client().tagImageCmd(DockerTestEngine.IMAGE, "127.0.0.1:1/pworker-test", "local").exec();
        try {
            RunHandle h = launch("{\"image\": \"" + local + "\", \"image_pull_policy\": \"IfPossible\", \"command\": \"true\"}");
            assertThat(awaitExit(launcher, h).code()).isZero();
            assertThat(log).anyMatch(l -> l.startsWith("WARN Could not pull image '" + local + "'"));
        } finally {
            engine.client().removeImageCmd(local).exec();
        }
    }

    @Test
    void aMissingImageWithPolicyNeverNamesTheImage() {
        assertThatThrownBy(() -> launch("{\"image\": \"pworker-test/absent:9\", \"image_pull_policy\": \"Never\"}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("pworker-test/absent:9");
        assertThat(containersOf(runId)).isEmpty();
    }

    // ---- networks and the API URL ----

    @Test
    void aLocalApiUrlIsReachedThroughTheHostNetwork() throws Exception {
        RunHandle h = launch("{\"command\": \"true\", \"env\": {\"PREFECT_API_URL\": \"http://127.0.0.1:4200/api\"}}");
        InspectContainerResponse c = inspect(h);
        assertThat(c.getHostConfig().getNetworkMode()).isEqualTo("host");
        assertThat(c.getConfig().getEnv()).contains("PREFECT_API_URL=http://127.0.0.1:4200/api");
    }

    @Test
    void aLocalApiUrlIsRewrittenWhenTheNetworkIsChosen() throws Exception {
        RunHandle h = launch("{\"command\": \"true\", \"network_mode\": \"none\","
                + " \"env\": {\"PREFECT_API_URL\": \"http://localhost:4200/api\"}}");
        InspectContainerResponse c = inspect(h);
        assertThat(c.getHostConfig().getNetworkMode()).isEqualTo("none");
        assertThat(c.getConfig().getEnv()).contains("PREFECT_API_URL=http://host.docker.internal:4200/api");
        RunHandle remote = launch(launcher, UUID.randomUUID().toString(), "{\"command\": \"true\", \"name\": \"" + name + "-remote\","
                + " \"env\": {\"PREFECT_API_URL\": \"https://api.prefect.cloud/api/accounts/a/workspaces/b\"}}");
        assertThat(inspect(remote).getHostConfig().getNetworkMode()).isNotEqualTo("host");
    }

    @Test
    void networksAreJoinedAndALocalApiUrlPointsAtTheHostGateway() throws Exception {
        String a = "pworker-test-a-" + runId.substring(0, 8);
        String b = "pworker-test-b-" + runId.substring(0, 8);
        engine.client().createNetworkCmd().withName(a).exec();
        engine.client().createNetworkCmd().withName(b).exec();
        try {
            RunHandle h = launch("{\"command\": \"true\", \"networks\": [\"" + a + "\", \"" + b + "\"],"
                    + " \"env\": {\"PREFECT_API_URL\": \"http://127.0.0.1:4200/api\"}}");
            assertThat(awaitExit(launcher, h).code()).isZero();
            InspectContainerResponse c = inspect(h);
            assertThat(c.getHostConfig().getNetworkMode()).isEqualTo(a);
            assertThat(c.getNetworkSettings().getNetworks()).containsKeys(a, b);
            assertThat(c.getConfig().getEnv()).contains("PREFECT_API_URL=http://host.docker.internal:4200/api");
            assertThat(c.getHostConfig().getExtraHosts()).contains("host.docker.internal:host-gateway");
        } finally {
            // a network in use cannot be removed; the container goes first
            handles.forEach(h -> engine.client().removeContainerCmd(h.state().get("container_id")).withForce(true).exec());
            engine.client().removeNetworkCmd(a).exec();
            engine.client().removeNetworkCmd(b).exec();
        }
    }

    @Test
    void containerCreateKwargsThatDockerJavaCanExpressAreApplied() throws Exception {
        ObjectNode kwargs = (ObjectNode) JSON.readTree("{\"command\": \"true\", \"container_create_kwargs\": {\"user\": \"1234\", "
                + "\"working_dir\": \"/tmp\", \"hostname\": \"flowbox\", \"env\": {\"X\": \"1\"}, \"ulimits\": []}}");
        RunHandle h = launch(kwargs.toString());
        InspectContainerResponse c = inspect(h);
        assertThat(c.getConfig().getUser()).isEqualTo("1234");
        assertThat(c.getConfig().getWorkingDir()).isEqualTo("/tmp");
        assertThat(c.getConfig().getHostName()).isEqualTo("flowbox");
        assertThat(log).anyMatch(l -> l.contains("'env' is ignored")).anyMatch(l -> l.contains("'ulimits' is not supported"));
    }

    @Test
    void anUnreachableEngineIsAClearErrorAtStart() {
        assertThatThrownBy(() -> DockerLauncher.connect(context(Map.of("DOCKER_HOST", "unix://" + dir.resolve("none.sock")))))
                .isInstanceOf(InfrastructureException.class)
                .hasMessageContaining("cannot reach the Docker engine at unix://" + dir.resolve("none.sock"));
    }
}
