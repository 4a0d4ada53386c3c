package io.pworker.process;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker is a separate JVM that launches runs and is then killed with SIGKILL; the test plays the worker that
 * starts next, which is not the parent of the runs' processes.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProcessWorkerRestartTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path state;
    private final List<RunHandle> handles = new ArrayList<>();
    private ProcessLauncher next;
    private Process firstWorker;

    @AfterEach
    void cleanUp() throws Exception {
        if (firstWorker != null) {
            firstWorker.destroyForcibly();
        }
        if (next != null) {
            for (RunHandle h : handles) {
                next.kill(h, null, Duration.ofMillis(100));
                next.release(h, null);
            }
            next.close();
        }
    }

    @Test
    void theWorkerThatStartsNextSeesTheRunsEndWithTheirExitCodesAndCanStopThem() throws Exception {
        next = launcher(new PrintStream(OutputStream.nullOutputStream()));
        BufferedReader lines = startFirstWorker("quiet", "sleep 3; exit 7", "sleep 300");
        RunHandle exiting = readHandle(lines.readLine());
        RunHandle sleeping = readHandle(lines.readLine());
        killFirstWorker();
        assertThat(ProcessTests.alive(Long.parseLong(exiting.infrastructurePid()))).as("runs outlive the worker").isTrue();

        assertThat(next.recover(exiting, null)).isInstanceOf(Phase.Running.class);
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        next.watch(exiting, null, phases::add);
        assertThat(phases.poll(5, TimeUnit.SECONDS)).isInstanceOf(Phase.Running.class);
        assertThat(phases.poll(20, TimeUnit.SECONDS)).isEqualTo(Phase.Exited.of(7));
        assertThat(next.recover(exiting, null)).isEqualTo(Phase.Exited.of(7));

        assertThat(next.kill(sleeping, null, Duration.ofSeconds(10))).isEqualTo(KillOutcome.KILLED);
        assertThat(next.recover(sleeping, null)).isEqualTo(Phase.Exited.of(-15));
    }

    /**
     * With {@code stream_output}, a run whose worker is killed keeps printing (it used to die of a broken pipe at its
     * next line), and the worker that starts next copies its output on from about where the first one stopped.
     */
    @Test
    void aRunThatPrintsOutlivesItsWorkerAndTheNextWorkerCopiesItsOutputOn() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        next = launcher(new PrintStream(console, true, StandardCharsets.UTF_8));
        BufferedReader lines = startFirstWorker("stream",
                "i=1; while [ $i -le 40 ]; do echo \"line $i\"; echo \"error $i\" >&2; sleep 0.1; i=$((i+1)); done");
        RunHandle printing = readHandle(lines.readLine());
        String runId = printing.state().get(RunTargets.FLOW_RUN_ID);
        LaunchRecords records = new LaunchRecords(state);
        ProcessTests.waitFor("the first worker copied some lines", () -> records.read(runId)
                .map(LaunchRecord::outputPosition).orElse(0L) > 0);
        killFirstWorker();
        assertThat(ProcessTests.alive(Long.parseLong(printing.infrastructurePid()))).as("still printing").isTrue();

        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        next.watch(printing, null, phases::add);
        assertThat(phases.poll(5, TimeUnit.SECONDS)).isInstanceOf(Phase.Running.class);
        assertThat(phases.poll(30, TimeUnit.SECONDS)).isEqualTo(Phase.Exited.of(0));

        List<String> copied = console.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(copied.getFirst()).as("not from the start again").isNotEqualTo("[r] line 1");
        int first = Integer.parseInt(copied.getFirst().replaceAll("\\D", ""));
        List<String> expected = new ArrayList<>();
        if (copied.getFirst().startsWith("[r] error")) {
            expected.add("[r] error " + first);
            first++;
        }
        for (int i = first; i <= 40; i++) {
            expected.add("[r] line " + i);
            expected.add("[r] error " + i);
        }
        assertThat(copied).isEqualTo(expected);
    }

    private ProcessLauncher launcher(PrintStream console) throws Exception {
        // created first so that clean-up can stop the runs whatever happens; it never starts a run itself
        return new ProcessLauncher(new PluginContext("w", Map.of("PATH", System.getenv("PATH")), console,
                Clock.systemUTC(), state), ExitWrapper.detect());
    }

    /** Starts the first worker, which launches one run per script; its stdout gives their handles, one a line. */
    private BufferedReader startFirstWorker(String output, String... scripts) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                FirstWorker.class.getName(), state.toString(), output));
        command.addAll(List.of(scripts));
        firstWorker = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new BufferedReader(new InputStreamReader(firstWorker.getInputStream(), StandardCharsets.UTF_8));
    }

    private void killFirstWorker() throws InterruptedException {
        firstWorker.destroyForcibly();
        assertThat(firstWorker.waitFor(10, TimeUnit.SECONDS)).isTrue();
    }

    private RunHandle readHandle(String line) throws Exception {
        assertThat(line).as("a handle from the first worker").isNotNull();
        Map<String, String> s = JSON.readValue(line, JSON.getTypeFactory().constructMapType(Map.class, String.class,
                String.class));
        RunHandle h = new RunHandle(s.get(RunTargets.PID), s);
        handles.add(h);
        return h;
    }

    /** The first worker: launches the runs, prints their handles, and waits to be killed. */
    public static final class FirstWorker {

        private static final RunLog QUIET = io.pworker.testkit.QuietRunLog.INSTANCE;

        /** Arguments: the state directory, {@code stream} or {@code quiet}, and one shell script per run. */
        public static void main(String[] args) throws Exception {
            ProcessLauncher launcher = new ProcessLauncher(new PluginContext("w", Map.of("PATH", System.getenv("PATH")),
                    new PrintStream(OutputStream.nullOutputStream()), Clock.systemUTC(), Path.of(args[0])),
                    ExitWrapper.detect());
            for (String script : List.of(args).subList(2, args.length)) {
                ObjectNode config = JSON.createObjectNode();
                config.put("command", "sh -c " + ProcessTests.shellQuote(script));
                config.put("name", "r");
                config.put("stream_output", args[1].equals("stream"));
                FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "r", null, null, null, null, "p",
                        null, "w", List.of());
                RunHandle h = launcher.launch(new LaunchRequest(run, config, QUIET));
                long pid = Long.parseLong(h.infrastructurePid());
                ProcessTests.waitFor("the command runs", () -> ProcessHandle.of(pid)
                        .map(p -> p.children().findAny().isPresent()).orElse(false));
                System.out.println(JSON.writeValueAsString(h.state()));
            }
            System.out.flush();
            Thread.sleep(Duration.ofMinutes(1));
        }
    }
}
