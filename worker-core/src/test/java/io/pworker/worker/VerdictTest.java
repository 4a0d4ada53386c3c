package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import io.pworker.worker.Verdict.StoppedBy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The one table that decides Crashed, Cancelled or the engine's word. */
@Timeout(10)
class VerdictTest {

    private static Verdict of(Phase end, StoppedBy by, boolean down) {
        return Verdict.of(end, by, down, "w1");
    }

    @Test
    void exitZeroIsTheEnginesToReport() {
        assertThat(of(Phase.Exited.of(0), StoppedBy.NOBODY, false)).isInstanceOf(Verdict.LeaveToEngine.class);
        assertThat(of(Phase.Exited.of(0), StoppedBy.NOBODY, true)).isInstanceOf(Verdict.LeaveToEngine.class);
        assertThat(of(Phase.Exited.of(0), StoppedBy.SHUTDOWN, false)).isInstanceOf(Verdict.LeaveToEngine.class);
    }

    @Test
    void aNonZeroExitCrashesWithTheCodeAndItsMeaning() {
        assertThat(of(Phase.Exited.of(137), StoppedBy.NOBODY, false)).isEqualTo(new Verdict.Crash(
                "Flow run infrastructure exited with non-zero status code 137. " + ExitCodes.explain(137)));
        assertThat(of(new Phase.Exited(new ExitStatus(137, "The container c was stopped outside the worker")),
                StoppedBy.NOBODY, false)).isEqualTo(new Verdict.Crash(
                "Flow run infrastructure exited with non-zero status code 137. The container c was stopped outside the worker."));
    }

    @Test
    void anEndWhileTheWorkerWasDownSaysSo() {
        Verdict exited = of(Phase.Exited.of(4), StoppedBy.NOBODY, true);
        assertThat(((Verdict.Crash) exited).message()).startsWith("Flow run infrastructure exited with non-zero status code 4.")
                .contains("while the worker was down");
        Verdict gone = of(new Phase.Gone("Process 42 is not running"), StoppedBy.NOBODY, true);
        assertThat(((Verdict.Crash) gone).message()).startsWith("Process 42 is not running.")
                .contains("while the worker was down");
    }

    @Test
    void goneCrashesWithTheReason() {
        assertThat(of(new Phase.Gone("The container c disappeared."), StoppedBy.NOBODY, false))
                .isEqualTo(new Verdict.Crash("The container c disappeared."));
    }

    @Test
    void aCancellationTheWorkerCarriedOutCancelsWhateverTheExit() {
        for (Phase end : new Phase[] {Phase.Exited.of(-15), Phase.Exited.of(0), new Phase.Gone("gone")}) {
            assertThat(of(end, StoppedBy.CANCELLATION, false)).isInstanceOf(Verdict.Cancel.class);
        }
    }

    @Test
    void aShutdownKillNamesTheWorker() {
        assertThat(((Verdict.Crash) of(Phase.Exited.of(-15), StoppedBy.SHUTDOWN, false)).message())
                .isEqualTo("Worker 'w1' was stopped while this flow run was running, and stopped its process (exit code -15).");
    }
}
