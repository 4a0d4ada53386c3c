package io.pworker.process;

import static io.pworker.process.ProcessTests.alive;
import static io.pworker.process.ProcessTests.read;
import static io.pworker.process.ProcessTests.shellQuote;
import static io.pworker.process.ProcessTests.waitFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What is particular to local processes: argv, directories, environment, output, signals, the state directory. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProcessLauncherTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String POOL_ID = UUID.randomUUID().toString();
    private static final RunLog LOG = io.pworker.testkit.QuietRunLog.INSTANCE;

    @TempDir
    Path state;
    @TempDir
    Path dir;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final List<ProcessLauncher> launchers = new ArrayList<>();
    private final List<RunHandle> handles = new ArrayList<>();
    private final List<Watch> watches = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        watches.forEach(Watch::close);
        for (RunHandle h : handles) {
            for (ProcessLauncher l : launchers) {
                l.kill(h, null, Duration.ofMillis(100));
                l.release(h, null);
            }
        }
        launchers.forEach(ProcessLauncher::close);
    }

    /** A launcher over the test's state directory: the worker, or the worker after a restart. */
    private ProcessLauncher launcher() throws Exception {
        return launcher(out);
    }

    /** A launcher that copies output to a console of its own. */
    private ProcessLauncher launcher(ByteArrayOutputStream console) throws Exception {
        ProcessLauncher l = new ProcessLauncher(new PluginContext("w",
                Map.of("PATH", System.getenv("PATH"), "FROM_WORKER", "worker", "OVERRIDDEN", "worker"),
                new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC(), state), ExitWrapper.detect());
        launchers.add(l);
        return l;
    }

    private ProcessLauncher first() throws Exception {
        return launchers.isEmpty() ? launcher() : launchers.getFirst();
    }

    private static FlowRunInfo newRun() {
        return new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, null, null, null, "p", POOL_ID, "w",
                List.of());
    }

    private RunHandle launch(String json) throws Exception {
        return launch(first(), newRun(), json);
    }

    private RunHandle launch(ProcessLauncher l, FlowRunInfo run, String json) throws Exception {
        RunHandle h = l.launch(new LaunchRequest(run, (ObjectNode) JSON.readTree(json), LOG));
        handles.add(h);
        return h;
    }

    private BlockingQueue<Phase> watch(ProcessLauncher l, RunHandle h) throws Exception {
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        watches.add(l.watch(h, null, phases::add));
        return phases;
    }

    private Phase awaitEnd(RunHandle h) throws Exception {
        return awaitEnd(watch(first(), h));
    }

    private static Phase awaitEnd(BlockingQueue<Phase> phases) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(30);
        while (Instant.now().isBefore(deadline)) {
            Phase p = phases.poll(100, TimeUnit.MILLISECONDS);
            if (p != null && p.terminal()) {
                return p;
            }
        }
        throw new AssertionError("process did not end");
    }

    /**
     * Waits until the wrapper runs the command. A signal sent before that ends the wrapper before it could set
     * its trap, and then no exit code is written.
     */
    private static void awaitCommand(RunHandle h) throws InterruptedException {
        long pid = Long.parseLong(h.infrastructurePid());
        // the wrapper forks, then the fork execs the command; a signal between the two is the shell's, so wait
        // until the child no longer runs the wrapper's script
        waitFor("the command runs under the wrapper", () -> ProcessHandle.of(pid)
                .map(p -> p.children().anyMatch(c -> !cmdline(c.pid()).contains(ExitWrapper.NAME))).orElse(false));
    }

    private static String cmdline(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/cmdline"));
        } catch (java.io.IOException e) {
            return ExitWrapper.NAME; // gone or unreadable: not the command yet
        }
    }

    private static int code(Phase p) {
        assertThat(p).isInstanceOf(Phase.Exited.class);
        return ((Phase.Exited) p).status().code();
    }

    private static String command(String... words) {
        return Stream.of(words).map(ProcessTests::shellQuote).collect(Collectors.joining(" "));
    }

    private static String config(String command, String more) {
        return "{\"command\":" + JSON.valueToTree(command) + ",\"name\":\"n\"" + more + "}";
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
        assertThat(code(awaitEnd(h))).isEqualTo(3);
    }

    @Test
    void theArgumentsReachTheProgramExactlyWithNoShellInBetween() throws Exception {
        List<String> args = List.of("a b", "$HOME", "${PATH}", "x; touch " + dir.resolve("injected"), "it's",
                "\"double\"", "line\nbreak", "back\\slash", "", "*", "$(touch " + dir.resolve("subst") + ")", "`id`",
                "-e", "--");
        Path received = dir.resolve("argv");
        List<String> words = new ArrayList<>(List.of("sh", "-c", "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$0\"",
                received.toString()));
        words.addAll(args);
        RunHandle h = launch(config(command(words.toArray(String[]::new)), ""));
        assertThat(code(awaitEnd(h))).isZero();
        String got = Files.readString(received);
        assertThat(List.of(got.substring(0, got.length() - 1).split("\0", -1))).isEqualTo(args);
        assertThat(dir.resolve("injected")).doesNotExist();
        assertThat(dir.resolve("subst")).doesNotExist();
    }

    @Test
    void theInfrastructurePidIsTheWrapperThatLeadsTheRunsProcessGroup() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        long pid = Long.parseLong(h.infrastructurePid());
        awaitCommand(h);
        assertThat(Files.readString(Path.of("/proc/" + pid + "/cmdline"))).contains(ExitWrapper.NAME);
        assertThat(ProcStat.read(pid).orElseThrow().leadsItsGroup()).isTrue();
        // the shell forks, then the fork execs the command: wait for the exec rather than catch the fork
        Instant deadline = Instant.now().plusSeconds(10);
        ProcessHandle command = null;
        while (Instant.now().isBefore(deadline)) {
            command = ProcessHandle.of(pid).orElseThrow().children().findFirst().orElse(null);
            if (command != null && command.info().command().map(c -> c.endsWith("sleep")).orElse(false)) {
                break;
            }
            Thread.sleep(20);
        }
        assertThat(command).isNotNull();
        assertThat(command.info().command()).hasValueSatisfying(c -> assertThat(c).endsWith("sleep"));
        assertThat(ProcStat.read(command.pid()).orElseThrow().processGroup()).isEqualTo(pid);
    }

    @Test
    void jobEnvironmentOverridesTheWorkersOwn() throws Exception {
        RunHandle h = launch("{\"command\":\"sh -c 'echo $FROM_WORKER-$OVERRIDDEN-$JOB'\",\"name\":\"envy\","
                + "\"env\":{\"OVERRIDDEN\":\"job\",\"JOB\":\"yes\"}}");
        assertThat(code(awaitEnd(h))).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("[envy] worker-job-yes");
    }

    @Test
    void streamOutputOffDiscardsOutput() throws Exception {
        RunHandle h = launch("{\"command\":\"echo hidden\",\"name\":\"quiet\",\"stream_output\":false}");
        assertThat(code(awaitEnd(h))).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).doesNotContain("hidden");
    }

    @Test
    void streamOutputCopiesStdoutAndStderrOfTheCommand() throws Exception {
        RunHandle h = launch("{\"command\":\"sh -c 'echo to-out; echo to-err >&2'\",\"name\":\"loud\"}");
        assertThat(code(awaitEnd(h))).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("[loud] to-out", "[loud] to-err");
    }

    @Test
    void stdoutAndStderrReachTheConsoleInTheOrderTheyWereWrittenLineByLine() throws Exception {
        RunHandle h = launch(config("sh -c " + shellQuote("i=1; while [ $i -le 100 ]; do echo \"out $i\"; "
                + "echo \"err $i\" >&2; i=$((i+1)); done; printf 'crlf\\r\\ncr\\rlast without a line break'"), ""));
        assertThat(code(awaitEnd(h))).isZero();
        List<String> expected = new ArrayList<>();
        for (int i = 1; i <= 100; i++) {
            expected.add("[n] out " + i);
            expected.add("[n] err " + i);
        }
        expected.addAll(List.of("[n] crlf", "[n] cr", "[n] last without a line break"));
        assertThat(out.toString(StandardCharsets.UTF_8).lines().toList()).isEqualTo(expected);
    }

    @Test
    void aLauncherAfterARestartCopiesTheOutputOnFromWhereTheEarlierOneStopped() throws Exception {
        Path go = dir.resolve("go");
        RunHandle h = launch(config("sh -c " + shellQuote("echo before; while [ ! -e " + go + " ]; do sleep 0.05; done; "
                + "echo after"), ""));
        waitFor("the first launcher copied a line", () -> out.toString(StandardCharsets.UTF_8).contains("[n] before"));
        LaunchRecords records = new LaunchRecords(state);
        waitFor("and noted how far", () -> records.read(flowRunId(h)).orElseThrow().outputPosition() > 0);
        ByteArrayOutputStream afterRestart = new ByteArrayOutputStream();
        ProcessLauncher restarted = launcher(afterRestart);
        BlockingQueue<Phase> phases = watch(restarted, h);
        Files.createFile(go);
        assertThat(code(awaitEnd(phases))).isZero();
        assertThat(afterRestart.toString(StandardCharsets.UTF_8).lines().toList()).containsExactly("[n] after");
    }

    @Test
    void theOutputOfFiftyRunsIsCopiedByOneThread() throws Exception {
        List<RunHandle> runs = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            runs.add(launch(config("sh -c " + shellQuote("while :; do echo tick; sleep 1; done"), "")
                    .replace("\"name\":\"n\"", "\"name\":\"r" + i + "\"")));
        }
        long before = platformThreads();
        ByteArrayOutputStream afterRestart = new ByteArrayOutputStream();
        ProcessLauncher restarted = launcher(afterRestart);
        for (RunHandle h : runs) {
            watch(restarted, h);
        }
        waitFor("every run's output copied by the restarted launcher", () -> {
            String copied = afterRestart.toString(StandardCharsets.UTF_8);
            return IntStream.range(0, 50).allMatch(i -> copied.contains("[r" + i + "] tick\n"));
        });
        assertThat(platformThreads() - before).isLessThan(5);
        assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> t.getName().equals("pworker-process-output"))
                .as("one follower for each of the two launchers").hasSize(2);
    }

    @Test
    void aLaunchCutShortBeforeThePidWasNotedIsAdoptedByTheNextLaunchOfTheRun() throws Exception {
        FlowRunInfo run = newRun();
        RunHandle h = launch(first(), run, config("sleep 300", ""));
        LaunchRecords records = new LaunchRecords(state);
        LaunchRecord started = cutShort(h);

        RunHandle again = launch(launcher(), run, config("sleep 300", ""));
        assertThat(again).isEqualTo(h);
        assertThat(records.read(run.id())).hasValueSatisfying(r -> assertThat(r.identity()).isEqualTo(started.identity()));
        assertThat(launchers.getLast().recover(again, null)).isInstanceOf(Phase.Running.class);
    }

    @Test
    void aLaunchCutShortBeforeThePidWasNotedIsDiscovered() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        cutShort(h);
        assertThat(launcher().discover(new InfrastructureScope(POOL_ID, "p", null))).singleElement().satisfies(d -> {
            assertThat(d.handle()).isEqualTo(h);
            assertThat(d.phase()).isInstanceOf(Phase.Running.class);
        });
    }

    /**
     * Turns the run's launch record back into what a worker leaves when it dies between starting the process and
     * noting its pid; returns the record as it was.
     */
    private LaunchRecord cutShort(RunHandle h) throws Exception {
        awaitCommand(h);
        LaunchRecords records = new LaunchRecords(state);
        LaunchRecord started = records.read(flowRunId(h)).orElseThrow();
        records.write(new LaunchRecord(started.flowRunId(), null, started.recordsExitCode(), started.tempDir(),
                started.workerName(), started.workPoolId(), started.workPoolName(), false, started.outputName(), 0));
        assertThat(records.read(flowRunId(h))).isEmpty();
        return started;
    }

    @Test
    void aLaunchCutShortBeforeTheProcessStartedIsStartedAnew() throws Exception {
        FlowRunInfo run = newRun();
        Path leftTemp = Files.createTempDirectory("pworker-left-");
        LaunchRecords records = new LaunchRecords(state);
        records.write(new LaunchRecord(run.id(), null, true, leftTemp.toString(), "w", POOL_ID, "p", false, "n", 0));

        RunHandle h = launch(first(), run, config("sh -c 'exit 4'", ""));
        assertThat(code(awaitEnd(h))).isEqualTo(4);
        assertThat(leftTemp).doesNotExist();
    }

    @Test
    void runsInTheWorkingDirOrATemporaryOneThatIsRemoved() throws Exception {
        RunHandle h = launch("{\"command\":\"pwd\",\"name\":\"wd\",\"working_dir\":\"" + dir + "\"}");
        awaitEnd(h);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("[wd] " + dir.toRealPath());
        first().release(h, null);

        out.reset();
        RunHandle t = launch("{\"command\":\"pwd\",\"name\":\"tmp\"}");
        awaitEnd(t);
        String printed = out.toString(StandardCharsets.UTF_8).trim().replace("[tmp] ", "");
        assertThat(Path.of(printed)).exists();
        first().release(t, null);
        assertThat(Path.of(printed)).doesNotExist();
    }

    @Test
    void killReachesTheWholeProcessGroupEvenWhenTheCommandIgnoresSigterm() throws Exception {
        Path childPid = dir.resolve("child.pid");
        RunHandle h = launch(config("sh -c " + shellQuote("trap '' TERM; sleep 300 & echo $! > " + childPid
                + "; wait; sleep 300"), ""));
        waitFor("background child started", () -> !read(childPid).isEmpty());
        long child = Long.parseLong(read(childPid));
        BlockingQueue<Phase> phases = watch(first(), h);
        long started = System.nanoTime();
        assertThat(first().kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.KILLED);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(code(awaitEnd(phases))).isEqualTo(-9);
        waitFor("background child gone", () -> !alive(child));
    }

    @Test
    void aRunTheWorkerEndedWithSigkillIsReportedAsMinus9AlsoAfterARestart() throws Exception {
        RunHandle h = launch(config("sh -c " + shellQuote("trap '' TERM; sleep 300"), ""));
        awaitCommand(h);
        assertThat(first().kill(h, null, Duration.ofMillis(300))).isEqualTo(KillOutcome.KILLED);
        assertThat(state.resolve("exit").resolve(flowRunId(h))).as("SIGKILL left the wrapper no time").doesNotExist();
        assertThat(code(launcher().recover(h, null))).isEqualTo(-9);
    }

    @Test
    void aPoliteProcessEndsOnSigtermWithMinus15() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        BlockingQueue<Phase> phases = watch(first(), h);
        assertThat(first().kill(h, null, Duration.ofSeconds(10))).isEqualTo(KillOutcome.KILLED);
        assertThat(code(awaitEnd(phases))).isEqualTo(-15);
    }

    @Test
    void sigtermReachesTheCommandThroughTheWrapperAndACleanExitIsReportedAsZero() throws Exception {
        Path ready = dir.resolve("ready");
        Path got = dir.resolve("got");
        RunHandle h = launch(config("sh -c " + shellQuote("trap 'echo TERM > " + got + "; exit 0' TERM; touch " + ready
                + "; sleep 300 & wait"), ""));
        waitFor("trap installed", () -> Files.exists(ready));
        BlockingQueue<Phase> phases = watch(first(), h);
        long started = System.nanoTime();
        assertThat(first().kill(h, null, Duration.ofSeconds(20))).isEqualTo(KillOutcome.KILLED);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(code(awaitEnd(phases))).isZero();
        assertThat(read(got)).isEqualTo("TERM");
        assertThat(read(state.resolve("exit").resolve(flowRunId(h)))).isEqualTo("0");
    }

    @Test
    void aLauncherThatDidNotStartTheRunReadsItsRecordedExitCode() throws Exception {
        RunHandle exited = launch(config("sh -c 'exit 5'", ""));
        awaitEnd(exited);
        RunHandle stopped = launch(config("sleep 300", ""));
        awaitCommand(stopped);
        first().kill(stopped, null, Duration.ofSeconds(10));
        RunHandle killedOutside = launch(config("sleep 300", ""));
        BlockingQueue<Phase> outside = watch(first(), killedOutside);
        awaitCommand(killedOutside);
        new ProcessBuilder("kill", "-s", "TERM", "--", "-" + killedOutside.infrastructurePid()).start().waitFor();
        awaitEnd(outside);

        ProcessLauncher restarted = launcher();
        assertThat(code(restarted.recover(exited, null))).isEqualTo(5);
        assertThat(code(restarted.recover(stopped, null))).as("the worker asked it to stop").isEqualTo(-15);
        assertThat(code(restarted.recover(killedOutside, null))).as("someone else did").isEqualTo(143);
        assertThat(code(awaitEnd(watch(restarted, exited)))).isEqualTo(5);
    }

    @Test
    void aLauncherThatDidNotStartTheRunWatchesAndStopsIt() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        awaitCommand(h);
        ProcessLauncher restarted = launcher();
        assertThat(restarted.recover(h, null)).isInstanceOf(Phase.Running.class);
        BlockingQueue<Phase> phases = watch(restarted, h);
        assertThat(phases.poll(5, TimeUnit.SECONDS)).isInstanceOf(Phase.Running.class);
        assertThat(restarted.kill(h, null, Duration.ofSeconds(10))).isEqualTo(KillOutcome.KILLED);
        assertThat(code(awaitEnd(phases))).isEqualTo(-15);
        assertThat(restarted.kill(h, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    @Test
    void aHandleWhosePidNowBelongsToAnotherProcessIsNeitherReportedNorSignalled() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        Map<String, String> stale = new HashMap<>(h.state());
        stale.put(RunTargets.START_TICKS, Long.toString(Long.parseLong(stale.get(RunTargets.START_TICKS)) - 1));
        RunHandle earlierProcess = new RunHandle(h.infrastructurePid(), stale);
        ProcessLauncher restarted = launcher();

        Phase recovered = restarted.recover(earlierProcess, null);
        assertThat(recovered).isInstanceOf(Phase.Gone.class);
        assertThat(((Phase.Gone) recovered).reason()).contains("belongs to another process");
        assertThat(awaitEnd(watch(restarted, earlierProcess))).isInstanceOf(Phase.Gone.class);
        assertThat(restarted.kill(earlierProcess, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
        assertThat(first().kill(earlierProcess, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
        Thread.sleep(200);
        assertThat(alive(Long.parseLong(h.infrastructurePid()))).isTrue();
    }

    @Test
    void handleRebuiltFromThePidAloneCanBeKilled() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        BlockingQueue<Phase> phases = watch(first(), h);
        RunHandle fromPid = RunHandle.ofPid(h.infrastructurePid());
        assertThat(first().kill(fromPid, null, Duration.ofSeconds(5))).isEqualTo(KillOutcome.KILLED);
        assertThat(code(awaitEnd(phases))).isEqualTo(-15);
        assertThat(first().kill(fromPid, null, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
    }

    @Test
    void aSecondLaunchAfterTheProcessEndedStartsANewOne() throws Exception {
        FlowRunInfo run = newRun();
        RunHandle once = launch(first(), run, config("sh -c 'exit 2'", ""));
        assertThat(code(awaitEnd(once))).isEqualTo(2);
        RunHandle again = launch(launcher(), run, config("sh -c 'exit 0'", ""));
        assertThat(again.state()).isNotEqualTo(once.state());
        assertThat(code(awaitEnd(watch(launchers.getLast(), again)))).isZero();
    }

    @Test
    void anInterruptedLaunchStartsNothing() throws Exception {
        ProcessLauncher l = first();
        long before = ProcessHandle.current().children().count();
        Thread.currentThread().interrupt();
        try {
            assertThatThrownBy(() -> launch(l, newRun(), config("sleep 300", "")))
                    .isInstanceOf(InterruptedException.class);
        } finally {
            Thread.interrupted();
        }
        assertThat(ProcessHandle.current().children().count()).isEqualTo(before);
        try (Stream<Path> records = Files.list(state.resolve("runs"))) {
            assertThat(records).isEmpty();
        }
    }

    @Test
    void releaseByALauncherThatDidNotStartTheRunRemovesItsFiles() throws Exception {
        RunHandle h = launch("{\"command\":\"pwd\",\"name\":\"tmp\"}");
        awaitEnd(h);
        Path temp = Path.of(out.toString(StandardCharsets.UTF_8).trim().replace("[tmp] ", ""));
        assertThat(temp).exists();
        assertThat(state.resolve("exit").resolve(flowRunId(h))).exists();
        assertThat(state.resolve("out").resolve(flowRunId(h) + ".log")).content().contains(temp.toString());
        launcher().release(h, null);
        assertThat(temp).doesNotExist();
        try (Stream<Path> left = Stream.of("runs", "exit", "out").flatMap(d -> list(state.resolve(d)))) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void discoverListsTheRecordedLaunchesOfThePool() throws Exception {
        RunHandle h = launch(config("sleep 300", ""));
        List<Discovered> found = launcher().discover(new InfrastructureScope(POOL_ID, "p", null));
        assertThat(found).singleElement().satisfies(d -> {
            assertThat(d.flowRunId()).isEqualTo(flowRunId(h));
            assertThat(d.handle()).isEqualTo(h);
            assertThat(d.phase()).isInstanceOf(Phase.Running.class);
        });
        assertThat(launchers.getLast().discover(new InfrastructureScope(POOL_ID, "p", "other-worker"))).isEmpty();
        assertThat(launchers.getLast().discover(new InfrastructureScope(UUID.randomUUID().toString(), "q", null)))
                .isEmpty();
    }

    @Test
    void manyRunsOfAnEarlierWorkerAreWatchedWithoutAThreadEach() throws Exception {
        List<RunHandle> runs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            runs.add(launch(config("sleep 300", ",\"stream_output\":false")));
        }
        ProcessLauncher restarted = launcher();
        long before = platformThreads();
        for (RunHandle h : runs) {
            watch(restarted, h);
        }
        Thread.sleep(1000);
        assertThat(platformThreads() - before).isLessThan(5);
    }

    @Test
    void runsInFlightAddNoProcessReaperThreadPerRun() throws Exception {
        assertThat(ExitWrapper.detect().detaches()).as("this machine has util-linux's setsid --fork").isTrue();
        int runs = 20;
        long reapersBefore = threadsNamed("process reaper");
        List<BlockingQueue<Phase>> watched = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            RunHandle h = launch(config("sleep 300", ",\"stream_output\":false"));
            watched.add(watch(first(), h));
        }
        for (RunHandle h : handles) {
            long pid = Long.parseLong(h.infrastructurePid());
            assertThat(ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid))
                    .as("the wrapper was handed to init").isNotEqualTo(java.util.Optional.of(ProcessHandle.current().pid()));
            assertThat(alive(pid)).isTrue();
        }
        // the JDK gives every child it waits for a thread of this name; the runs are no children of the worker
        assertThat(threadsNamed("process reaper") - reapersBefore).isLessThan(5);
        assertThat(watched).allSatisfy(q -> assertThat(q.peek()).isInstanceOf(Phase.Running.class));
    }

    @Test
    void attachedRunsAreChildrenWithAReaperThreadEach() throws Exception {
        ProcessLauncher attached = new ProcessLauncher(new PluginContext("w", Map.of("PATH", System.getenv("PATH")),
                new PrintStream(out, true, StandardCharsets.UTF_8), Clock.systemUTC(), state),
                ExitWrapper.detect().attached());
        launchers.add(attached);
        RunHandle h = launch(attached, newRun(), config("sleep 300", ""));
        BlockingQueue<Phase> phases = watch(attached, h);
        long pid = Long.parseLong(h.infrastructurePid());
        assertThat(ProcessHandle.current().children().map(ProcessHandle::pid)).contains(pid);
        assertThat(attached.kill(h, null, Duration.ofSeconds(10))).isEqualTo(KillOutcome.KILLED);
        assertThat(code(awaitEnd(phases))).isEqualTo(-15);
    }

    @Test
    void aWorkerThatIsPid1KeepsItsRunsAsChildren() {
        assertThat(ExitWrapper.detect(1).detaches()).as("orphans of a PID 1 would be its zombies").isFalse();
        assertThat(ExitWrapper.detect(1).recordsExitCodes()).isTrue();
    }

    @Test
    void procStatReadsThisProcess() {
        ProcStat self = ProcStat.read(ProcessHandle.current().pid()).orElseThrow();
        assertThat(self.running()).isTrue();
        assertThat(self.startTicks()).isPositive();
        assertThat(ProcStat.read(ProcessHandle.current().pid()).orElseThrow()).isEqualTo(self);
        assertThat(ProcStat.parse(1, "1 (x) S 1 2")).isEmpty();
    }

    @Test
    void aZombieHasEnded() {
        String line = "4242 (sleep) Z 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 0 0";
        assertThat(ProcStat.parse(4242, line).orElseThrow().running()).isFalse();
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
    }

    @Test
    void procStatIsReadPastACommandNameWithSpacesAndParentheses() {
        String line = "4242 (evil) (name 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        ProcStat s = ProcStat.parse(4242, line).orElseThrow();
        assertThat(s.state()).isEqualTo('S');
        assertThat(s.processGroup()).isEqualTo(4242);
        assertThat(s.startTicks()).isEqualTo(987654);
        assertThat(s.leadsItsGroup()).isTrue();
    }

    private static String flowRunId(RunHandle h) {
        return h.state().get(RunTargets.FLOW_RUN_ID);
    }

    private static Stream<Path> list(Path dir) {
        try {
            return Files.list(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long threadsNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).count();
    }

    private static long platformThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> !t.isVirtual()).count();
    }
}
