package io.pworker.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProcessLauncherTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ProcessLauncher launcher = (ProcessLauncher) new ProcessPlugin().create(new PluginContext("w",
            Map.of("PATH", System.getenv("PATH"), "FROM_WORKER", "worker", "OVERRIDDEN", "worker"),
            new PrintStream(out, true, StandardCharsets.UTF_8), Clock.systemUTC(), java.nio.file.Path.of(System.getProperty("java.io.tmpdir"))));
    private RunHandle handle;

    @AfterEach
    void cleanUp() throws Exception {
        if (handle != null) {
            launcher.kill(handle, null, Duration.ofMillis(100));
            launcher.release(handle, null);
        }
    }

    private static final RunLog LOG = new RunLog() {
        @Override
        public void info(String message) {
        }

        @Override
        public void warn(String message) {
        }

        @Override
        public void error(String message, Throwable cause) {
        }
    };

    private RunHandle launch(String json) throws Exception {
        ObjectNode config = (ObjectNode) JSON.readTree(json);
        FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, null, null, null, "p", null,
                "w", List.of());
        handle = launcher.launch(new LaunchRequest(run, config, LOG));
        return handle;
    }

    private ExitStatus awaitExit(RunHandle h) throws Exception {
        Instant deadline = Instant.now().plusSeconds(30);
        while (Instant.now().isBefore(deadline)) {
            Optional<ExitStatus> s = launcher.await(h, Duration.ofMillis(500));
            if (s.isPresent()) {
                return s.get();
            }
        }
        throw new AssertionError("process did not exit");
    }

    @Test
    void defaultTemplateHasTheShapeOfPrefectsProcessTemplate() {
        assertThat(io.pworker.testkit.PrefectTemplates.structuralDifferences(new ProcessPlugin().defaultBaseJobTemplate(),
                io.pworker.testkit.PrefectTemplates.prefectDefault("process"))).isEmpty();
    }

    @Test
    void reportsTheExitCodeAndThePidAsInfrastructurePid() throws Exception {
        RunHandle h = launch("{\"command\":\"sh -c 'exit 3'\",\"name\":\"n\"}");
        assertThat(h.infrastructurePid()).matches("\\d+");
        assertThat(awaitExit(h).code()).isEqualTo(3);
    }

    @Test
    void jobEnvironmentOverridesTheWorkersOwn() throws Exception {
        RunHandle h = launch("{\"command\":\"sh -c 'echo $FROM_WORKER-$OVERRIDDEN-$JOB'\",\"name\":\"envy\","
                + "\"env\":{\"OVERRIDDEN\":\"job\",\"JOB\":\"yes\"}}");
        assertThat(awaitExit(h).code()).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("[envy] worker-job-yes");
    }

    @Test
    void streamOutputOffDiscardsOutput() throws Exception {
        RunHandle h = launch("{\"command\":\"echo hidden\",\"name\":\"quiet\",\"stream_output\":false}");
        assertThat(awaitExit(h).code()).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).doesNotContain("hidden");
    }

    @Test
    void runsInTheWorkingDirOrATemporaryOneThatIsRemoved(@TempDir Path dir) throws Exception {
        RunHandle h = launch("{\"command\":\"pwd\",\"name\":\"wd\",\"working_dir\":\"" + dir + "\"}");
        awaitExit(h);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("[wd] " + dir.toRealPath());
        launcher.release(h, null);
        handle = null;

        out.reset();
        RunHandle t = launch("{\"command\":\"pwd\",\"name\":\"tmp\"}");
        awaitExit(t);
        String printed = out.toString(StandardCharsets.UTF_8).trim().replace("[tmp] ", "");
        assertThat(Path.of(printed)).exists();
        launcher.release(t, null);
        handle = null;
        assertThat(Path.of(printed)).doesNotExist();
    }

    @Test
    void killReachesTheWholeProcessGroupEvenWhenTheLeaderIgnoresSigterm(@TempDir Path dir) throws Exception {
        Path childPid = dir.resolve("child.pid");
        RunHandle h = launch("{\"command\":\"sh -c 'trap \\\"\\\" TERM; sleep 300 & echo $! > " + childPid
                + "; wait; sleep 300'\",\"name\":\"stubborn\"}");
        waitFor(() -> Files.exists(childPid) && !read(childPid).isEmpty());
        long child = Long.parseLong(read(childPid));
        long started = System.nanoTime();
        assertThat(launcher.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.KILLED);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(awaitExit(h).code()).isEqualTo(-9);
        waitFor(() -> ProcessHandle.of(child).map(p -> !p.isAlive()).orElse(true));
    }

    @Test
    void aPoliteProcessEndsOnSigtermWithMinus15() throws Exception {
        RunHandle h = launch("{\"command\":\"sleep 300\",\"name\":\"polite\"}");
        assertThat(launcher.kill(h, null, Duration.ofSeconds(10))).isEqualTo(KillOutcome.KILLED);
        assertThat(awaitExit(h).code()).isEqualTo(-15);
    }

    @Test
    void handleRebuiltFromThePidAloneCanBeKilled() throws Exception {
        RunHandle h = launch("{\"command\":\"sleep 300\",\"name\":\"orphan\"}");
        RunHandle fromPid = RunHandle.ofPid(h.infrastructurePid());
        assertThat(launcher.kill(fromPid, null, Duration.ofSeconds(5))).isEqualTo(KillOutcome.KILLED);
        assertThat(awaitExit(h).code()).isNotZero();
        assertThat(launcher.kill(fromPid, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    @Test
    void badConfigurationNamesTheKey() {
        assertThatThrownBy(() -> launch("{\"command\":\"echo 'x\",\"name\":\"n\"}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("command");
        assertThatThrownBy(() -> launch("{\"command\":\"echo\",\"stream_output\":\"yes\"}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("stream_output");
        assertThatThrownBy(() -> launch("{\"command\":\"echo\",\"working_dir\":\"/does/not/exist\"}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("working_dir");
        assertThatThrownBy(() -> launch("{\"command\":\"/no/such/binary\"}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("/no/such/binary");
        handle = null;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(20);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("condition not met in 20 s");
            }
            Thread.sleep(20);
        }
    }
}
