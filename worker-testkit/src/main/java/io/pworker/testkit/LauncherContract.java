package io.pworker.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What every infrastructure plugin must do, written once: extend this class in the plugin's tests and supply a
 * launcher, a configuration that runs a shell script on the infrastructure, and a way to remove infrastructure
 * behind the worker's back. The tests go through the SPI only, so they hold for processes, containers and cloud
 * backends alike.
 *
 * <p>A worker restart is played by asking a second launcher ({@link #newLauncher()}) that never saw the run.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
public abstract class LauncherContract {

    private final List<Launched> launched = new ArrayList<>();
    private final List<InfrastructureLauncher> launchers = new ArrayList<>();
    private final List<Watch> watches = new ArrayList<>();

    /** A new launcher over the same backend, as a freshly started worker process would create it. */
    protected abstract InfrastructureLauncher createLauncher() throws Exception;

    /**
     * A rendered job configuration, as the core hands it to the launcher, whose infrastructure runs {@code script}
     * with a POSIX shell ({@code sh -c script}) and is labelled or named for {@code run}.
     */
    protected abstract ObjectNode configuration(FlowRunInfo run, String script);

    /** Removes the run's infrastructure from outside the worker (SIGKILL to its process group, {@code docker rm -f}, …). */
    protected abstract void removeFromOutside(RunHandle handle) throws Exception;

    /**
     * Whether a launcher that did not start the run still learns its exit code after it ended (containers keep it;
     * a local process only when its exit was recorded).
     */
    protected boolean exitCodeKnownAfterRestart() {
        return true;
    }

    /** How long the infrastructure may take to start and to report an exit. */
    protected Duration patience() {
        return Duration.ofSeconds(60);
    }

    protected final InfrastructureLauncher newLauncher() throws Exception {
        InfrastructureLauncher l = createLauncher();
        launchers.add(l);
        return l;
    }

    @AfterEach
    void cleanUp() throws Exception {
        watches.forEach(Watch::close);
        InfrastructureLauncher any = launchers.isEmpty() ? null : launchers.getFirst();
        for (Launched l : launched) {
            try {
                any.kill(l.handle(), l.configuration(), Duration.ofSeconds(1));
            } catch (Exception e) {
                // gone already
            }
            any.release(l.handle(), l.configuration());
        }
        for (InfrastructureLauncher l : launchers) {
            l.close();
        }
    }

    // ---- the contract ----

    @Test
    void anExitCodeOfZeroIsReported() throws Exception {
        InfrastructureLauncher l = newLauncher();
        Launched run = launch(l, "exit 0");
        assertEquals(0, exitCode(awaitTerminal(l, run)));
    }

    @Test
    void aNonZeroExitCodeIsReported() throws Exception {
        InfrastructureLauncher l = newLauncher();
        Launched run = launch(l, "exit 3");
        assertEquals(3, exitCode(awaitTerminal(l, run)));
    }

    @Test
    void killStopsTheInfrastructureWithinTheGracePeriod() throws Exception {
        InfrastructureLauncher l = newLauncher();
        Launched run = launch(l, "sleep 300");
        BlockingQueue<Phase> phases = watch(l, run);
        awaitRunning(phases);
        Instant start = Instant.now();
        assertEquals(KillOutcome.KILLED, l.kill(run.handle(), run.configuration(), Duration.ofSeconds(10)));
        Phase end = awaitTerminal(phases);
        assertTrue(Duration.between(start, Instant.now()).compareTo(Duration.ofSeconds(10)) < 0,
                "a process that honours SIGTERM stops before the grace period ends");
        assertNotEquals(0, exitCode(end), "a killed run did not succeed: " + end);
    }

    @Test
    void killForcesInfrastructureThatIgnoresTheGracefulSignal() throws Exception {
        InfrastructureLauncher l = newLauncher();
        Launched run = launch(l, "trap '' TERM; while true; do sleep 1; done");
        BlockingQueue<Phase> phases = watch(l, run);
        awaitRunning(phases);
        Thread.sleep(500); // let the shell install its trap
        Instant start = Instant.now();
        assertEquals(KillOutcome.KILLED, l.kill(run.handle(), run.configuration(), Duration.ofSeconds(2)));
        awaitTerminal(phases);
        assertTrue(Duration.between(start, Instant.now()).compareTo(Duration.ofSeconds(20)) < 0,
                "forced stop after the grace period");
    }

    @Test
    void aSecondLaunchForTheSameRunAdoptsTheFirstInfrastructure() throws Exception {
        InfrastructureLauncher l = newLauncher();
        Launched first = launch(l, "sleep 300");
        RunHandle again = newLauncher().launch(new LaunchRequest(first.run(), first.configuration(), QUIET));
        assertEquals(first.handle().infrastructurePid(), again.infrastructurePid());
    }

    @Test
    void recoverSeesRunningInfrastructure() throws Exception {
        Launched run = launch(newLauncher(), "sleep 300");
        awaitRunning(watch(launchers.getFirst(), run));
        Phase p = newLauncher().recover(run.handle(), run.configuration());
        assertTrue(p instanceof Phase.Running || p instanceof Phase.Pending, "running, got " + p);
    }

    @Test
    void recoverSeesHowInfrastructureEndedWhileNobodyWatched() throws Exception {
        InfrastructureLauncher first = newLauncher();
        Launched run = launch(first, "exit 4");
        awaitTerminal(first, run);
        Phase p = newLauncher().recover(run.handle(), run.configuration());
        if (exitCodeKnownAfterRestart()) {
            assertEquals(4, exitCode(p));
        } else {
            assertTrue(p.terminal(), "ended, got " + p);
        }
    }

    @Test
    void recoverAndWatchSeeInfrastructureRemovedFromOutside() throws Exception {
        InfrastructureLauncher l = newLauncher();
        Launched run = launch(l, "sleep 300");
        BlockingQueue<Phase> phases = watch(l, run);
        awaitRunning(phases);
        removeFromOutside(run.handle());
        Phase watched = awaitTerminal(phases);
        assertNotEquals(0, exitCode(watched), "removed from outside is not a success: " + watched);
        Phase recovered = newLauncher().recover(run.handle(), run.configuration());
        assertTrue(recovered.terminal(), "ended, got " + recovered);
        assertNotEquals(0, exitCode(recovered), "removed from outside is not a success: " + recovered);
    }

    @Test
    void aHandleRebuiltFromThePidAloneWorks() throws Exception {
        Launched run = launch(newLauncher(), "sleep 300");
        awaitRunning(watch(launchers.getFirst(), run));
        InfrastructureLauncher fresh = newLauncher();
        RunHandle pidOnly = RunHandle.ofPid(run.handle().infrastructurePid());
        Phase p = fresh.recover(pidOnly, run.configuration());
        assertTrue(p instanceof Phase.Running || p instanceof Phase.Pending, "running, got " + p);
        BlockingQueue<Phase> phases = watch(fresh, new Launched(run.run(), run.configuration(), pidOnly));
        assertEquals(KillOutcome.KILLED, fresh.kill(pidOnly, run.configuration(), Duration.ofSeconds(5)));
        awaitTerminal(phases);
        assertEquals(KillOutcome.NOT_FOUND, fresh.kill(pidOnly, run.configuration(), Duration.ofSeconds(1)));
    }

    // ---- helpers for subclasses' own tests ----

    protected static final RunLog QUIET = QuietRunLog.INSTANCE;

    /** A launched run, remembered for clean-up. */
    protected record Launched(FlowRunInfo run, ObjectNode configuration, RunHandle handle) {
    }

    protected static FlowRunInfo newRun() {
        String id = UUID.randomUUID().toString();
        return new FlowRunInfo(id, "contract-" + id.substring(0, 8), UUID.randomUUID().toString(), "contract-flow",
                null, null, "contract-pool", UUID.randomUUID().toString(), "contract-worker", List.of());
    }

    protected final Launched launch(InfrastructureLauncher l, String script) throws Exception {
        FlowRunInfo run = newRun();
        ObjectNode configuration = configuration(run, script);
        RunHandle handle = l.launch(new LaunchRequest(run, configuration, QUIET));
        Launched out = new Launched(run, configuration, handle);
        launched.add(out);
        return out;
    }

    protected final BlockingQueue<Phase> watch(InfrastructureLauncher l, Launched run) throws Exception {
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        Watch w = l.watch(run.handle(), run.configuration(), phases::add);
        watches.add(w);
        return phases;
    }

    protected final Phase awaitTerminal(InfrastructureLauncher l, Launched run) throws Exception {
        return awaitTerminal(watch(l, run));
    }

    protected final Phase awaitTerminal(BlockingQueue<Phase> phases) throws InterruptedException {
        Instant deadline = Instant.now().plus(patience());
        while (Instant.now().isBefore(deadline)) {
            Phase p = phases.poll(200, TimeUnit.MILLISECONDS);
            if (p != null && p.terminal()) {
                return p;
            }
        }
        return fail("no terminal phase within " + patience());
    }

    protected final void awaitRunning(BlockingQueue<Phase> phases) throws InterruptedException {
        Instant deadline = Instant.now().plus(patience());
        while (Instant.now().isBefore(deadline)) {
            Phase p = phases.poll(200, TimeUnit.MILLISECONDS);
            if (p instanceof Phase.Running) {
                return;
            }
            if (p != null && p.terminal()) {
                fail("ended before it ran: " + p);
            }
        }
        fail("not running within " + patience());
    }

    /** The exit code of a terminal phase; a {@link Phase.Gone} counts as -1 (unknown, not a success). */
    protected static int exitCode(Phase p) {
        if (p instanceof Phase.Exited e) {
            return e.status().code();
        }
        assertInstanceOf(Phase.Gone.class, p, "a terminal phase");
        return -1;
    }
}
