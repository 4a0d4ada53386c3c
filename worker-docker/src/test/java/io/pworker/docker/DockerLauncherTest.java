package io.pworker.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.testkit.FakePrefectServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher against a real Docker engine: what reaches the container, exit codes, kills, failures. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DockerLauncherTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private DockerEngine engine;
    private DockerLauncher launcher;
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final List<RunHandle> handles = new ArrayList<>();
    private final String runId = UUID.randomUUID().toString();

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
        engine = DockerEngine.get();
        launcher = DockerLauncher.connect(context(Map.of("DOCKER_HOST", engine.host)));
    }

    @AfterEach
    void cleanUp() {
        if (launcher == null) {
            return;
        }
        for (RunHandle h : handles) {
            try {
                engine.client.removeContainerCmd(h.state().get("container_id")).withForce(true).exec();
            } catch (RuntimeException ignored) {
                // removed by the test or by auto_remove
            }
            launcher.release(h, null);
        }
        launcher.close();
    }

    private PluginContext context(Map<String, String> env) {
        return new PluginContext("w", env, new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC(), java.nio.file.Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** A configuration as the core renders it from the default template, with the given overrides. */
    private ObjectNode config(String overrides) throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree("""
                {"image": "%s", "image_pull_policy": "Never", "command": null, "env": {}, "labels": {
                  "prefect.io/flow-run-id": "%s", "prefect.io/version": "3.4.25"}, "name": "tidy-otter",
                 "networks": [], "network_mode": null, "auto_remove": false, "volumes": [], "stream_output": false,
                 "mem_limit": null, "memswap_limit": null, "privileged": false, "registry_credentials": null}
                """.formatted(DockerEngine.IMAGE, runId));
        c.setAll((ObjectNode) JSON.readTree(overrides));
        return c;
    }

    private RunHandle launch(String overrides) throws Exception {
        RunHandle h = launcher.launch(new LaunchRequest(new FlowRunInfo(runId, "tidy-otter", null, "etl", null, null, "pool",
                null, "w", List.of()), config(overrides), runLog));
        handles.add(h);
        return h;
    }

    private ExitStatus awaitExit(DockerLauncher l, RunHandle h) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Optional<ExitStatus> s = l.await(h, Duration.ofMillis(500));
            if (s.isPresent()) {
                return s.get();
            }
        }
        throw new AssertionError("container did not exit");
    }

    private InspectContainerResponse inspect(RunHandle h) {
        return engine.client.inspectContainerCmd(h.state().get("container_id")).exec();
    }

    @Test
    void theExitCodeComesFromTheEnginesWaitEvenWithoutStreamedOutput() throws Exception {
        RunHandle ok = launch("{\"command\": \"true\"}");
        RunHandle five = launch("{\"command\": \"sh -c 'sleep 0.3; exit 5'\", \"name\": \"five\"}");
        assertThat(awaitExit(launcher, ok).code()).isZero();
        assertThat(awaitExit(launcher, five).code()).isEqualTo(5);
        assertThat(ok.infrastructurePid()).matches("http\\+docker://localhost:[0-9a-f]{64}");
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
        assertThat(c.getName()).isEqualTo("/tidy-otter");
        assertThat(Files.readString(dir.resolve("output.txt"))).isEqualTo("from the host\nhello container\n");
    }

    @Test
    void aNameInUseGetsANumberedSuffix() throws Exception {
        RunHandle first = launch("{\"command\": \"sleep 30\", \"name\": \"busy name!\"}");
        RunHandle second = launch("{\"command\": \"sleep 30\", \"name\": \"busy name!\"}");
        assertThat(inspect(first).getName()).isEqualTo("/busy-name-");
        assertThat(inspect(second).getName()).isEqualTo("/busy-name--1");
    }

    @Test
    void killStopsAContainerWhosePid1IgnoresSigtermWithinTheGracePeriod() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'trap \\\"\\\" TERM; while true; do sleep 1; done'\"}");
        assertThat(launcher.await(h, Duration.ofMillis(500))).isEmpty();
        long start = System.nanoTime();
        assertThat(launcher.kill(h, null, Duration.ofSeconds(2))).isEqualTo(KillOutcome.KILLED);
        ExitStatus status = awaitExit(launcher, h);
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(status.code()).isEqualTo(137);
        assertThat(tookMillis).isBetween(1_500L, 12_000L);
        // a second kill finds it stopped; once removed it is not found
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.KILLED);
        engine.client.removeContainerCmd(h.state().get("container_id")).exec();
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    @Test
    void killWithAutoRemoveLeavesNoContainer() throws Exception {
        RunHandle h = launch("{\"command\": \"sleep 60\", \"auto_remove\": true}");
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.KILLED);
        FakePrefectServer.await(Duration.ofSeconds(20), () -> !exists(h.state().get("container_id")), "container removed");
    }

    @Test
    void aContainerOnAnotherEngineIsNotOurs() throws Exception {
        RunHandle foreign = new RunHandle("http://10.0.0.9:2375:" + "a".repeat(64), Map.of());
        assertThat(launcher.kill(foreign, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_AVAILABLE);
        RunHandle missing = RunHandle.ofPid("http+docker://localhost:" + "b".repeat(64));
        assertThat(launcher.kill(missing, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    @Test
    void aContainerRemovedFromOutsideIsReportedAsDisappeared() throws Exception {
        RunHandle h = launch("{\"command\": \"sleep 60\"}");
        assertThat(launcher.await(h, Duration.ofMillis(300))).isEmpty();
        engine.client.removeContainerCmd(h.state().get("container_id")).withForce(true).exec();
        ExitStatus status = awaitExit(launcher, h);
        assertThat(status.code()).isNotZero();
        assertThat(status.reason()).contains("disappeared").contains("tidy-otter");
    }

    @Test
    void aContainerKilledFromOutsideIsReportedAsSuch() throws Exception {
        RunHandle h = launch("{\"command\": \"sleep 60\"}");
        assertThat(launcher.await(h, Duration.ofMillis(300))).isEmpty();
        engine.client.killContainerCmd(h.state().get("container_id")).exec();
        ExitStatus status = awaitExit(launcher, h);
        assertThat(status.code()).isEqualTo(137);
        assertThat(status.reason()).contains("stopped or killed outside the worker (SIGKILL)");
    }

    @Test
    void anAutoRemovedContainerThatEndsAtOnceStillReportsItsCodeAndOutput() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'echo last words; exit 3'\", \"auto_remove\": true,"
                + " \"stream_output\": true, \"name\": \"brief\"}");
        ExitStatus status = awaitExit(launcher, h);
        assertThat(status.code()).isEqualTo(3);
        assertThat(status.reason()).isNull();
        assertThat(console.toString(StandardCharsets.UTF_8)).contains("[brief] last words");
    }

    @Test
    void aLauncherThatOnlyKnowsTheInfrastructurePidCanStillWatchAndKill() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'sleep 1; exit 4'\"}");
        try (DockerLauncher other = DockerLauncher.connect(context(Map.of("DOCKER_HOST", engine.host)))) {
            RunHandle recovered = RunHandle.ofPid(h.infrastructurePid());
            assertThat(awaitExit(other, recovered).code()).isEqualTo(4);
            other.release(recovered, null);
        }
    }

    @Test
    void alwaysPullingFromAnUnreachableRegistryFailsTheLaunchWithTheRegistryError() {
        assertThatThrownBy(() -> launch("{\"image\": \"127.0.0.1:1/nope:1\", \"image_pull_policy\": \"Always\"}"))
                .isInstanceOf(LaunchException.class)
                .hasMessageContaining("cannot pull image '127.0.0.1:1/nope:1'")
                .hasMessageContaining("127.0.0.1:1");
    }

    @Test
    void ifPossibleFallsBackToTheLocalImageWhenThePullFails() throws Exception {
        String local = "127.0.0.1:1/pworker-test:local";
        engine.client.tagImageCmd(DockerEngine.IMAGE, "127.0.0.1:1/pworker-test", "local").exec();
        try {
            RunHandle h = launch("{\"image\": \"" + local + "\", \"image_pull_policy\": \"IfPossible\", \"command\": \"true\"}");
            assertThat(awaitExit(launcher, h).code()).isZero();
            assertThat(log).anyMatch(l -> l.startsWith("WARN Could not pull image '" + local + "'"));
        } finally {
            engine.client.removeImageCmd(local).exec();
        }
    }

    @Test
    void aMissingImageWithPolicyNeverNamesTheImage() {
        assertThatThrownBy(() -> launch("{\"image\": \"pworker-test/absent:9\", \"image_pull_policy\": \"Never\"}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("pworker-test/absent:9");
    }

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
        RunHandle remote = launch("{\"command\": \"true\", \"name\": \"remote\","
                + " \"env\": {\"PREFECT_API_URL\": \"https://api.prefect.cloud/api/accounts/a/workspaces/b\"}}");
        assertThat(inspect(remote).getHostConfig().getNetworkMode()).isNotEqualTo("host");
    }

    @Test
    void networksAreJoinedAndALocalApiUrlPointsAtTheHostGateway() throws Exception {
        String a = "pworker-test-a-" + runId.substring(0, 8);
        String b = "pworker-test-b-" + runId.substring(0, 8);
        engine.client.createNetworkCmd().withName(a).exec();
        engine.client.createNetworkCmd().withName(b).exec();
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
            handles.forEach(h -> engine.client.removeContainerCmd(h.state().get("container_id")).withForce(true).exec());
            engine.client.removeNetworkCmd(a).exec();
            engine.client.removeNetworkCmd(b).exec();
        }
    }

    @Test
    void streamedOutputIsPrefixedWithTheContainerName() throws Exception {
        RunHandle h = launch("{\"command\": \"sh -c 'echo one; echo two >&2; printf three'\", \"stream_output\": true,"
                + " \"name\": \"chatty\"}");
        assertThat(awaitExit(launcher, h).code()).isZero();
        String out = console.toString(StandardCharsets.UTF_8);
        assertThat(Arrays.asList(out.split("\n"))).contains("[chatty] one", "[chatty] two", "[chatty] three");
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

    @Test
    void anEngineThatGoesAwayWhileWatchedIsAnInfrastructureError() throws Exception {
        try (SocketProxy proxy = SocketProxy.toUnixSocket(Path.of(engine.host.substring("unix://".length())))) {
            DockerLauncher viaTcp = DockerLauncher.connect(context(Map.of("DOCKER_HOST", "tcp://127.0.0.1:" + proxy.port())));
            try {
                RunHandle h = viaTcp.launch(new LaunchRequest(new FlowRunInfo(runId, "tidy-otter", null, null, null, null,
                        "pool", null, "w", List.of()), config("{\"command\": \"sleep 60\", \"name\": \"via-tcp\"}"), runLog));
                handles.add(h);
                assertThat(h.infrastructurePid()).startsWith("http://127.0.0.1:" + proxy.port() + ":");
                assertThat(viaTcp.await(h, Duration.ofMillis(300))).isEmpty();
                proxy.close();
                assertThatThrownBy(() -> awaitExit(viaTcp, h)).isInstanceOf(InfrastructureException.class)
                        .hasMessageContaining("lost the Docker engine");
            } finally {
                viaTcp.close();
            }
        }
    }

    private boolean exists(String id) {
        try {
            engine.client.inspectContainerCmd(id).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }
}
