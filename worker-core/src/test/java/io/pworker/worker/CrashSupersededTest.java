package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.api.FlowRun;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** When a crash of ended infrastructure is no longer the run's news (RunReporter.movedOn). */
class CrashSupersededTest {

    private static FlowRun run(String type, String name, String pid) {
        return new FlowRun("r1", "n", "f", "d", null, List.of(), type, name, pid, true, Map.of());
    }

    @Test
    void aRunStillOnThisInfrastructureOrOnNoneIsCrashed() {
        assertThat(RunReporter.movedOn(run("RUNNING", "Running", "stub:1"), "stub:1")).isEmpty();
        assertThat(RunReporter.movedOn(run("PENDING", "Pending", null), "stub:1")).isEmpty();
        assertThat(RunReporter.movedOn(run("PENDING", "InfrastructurePending", "stub:1"), "stub:1")).isEmpty();
        assertThat(RunReporter.movedOn(run("CANCELLING", "Cancelling", "stub:1"), "stub:1")).isEmpty();
    }

    @Test
    void aRescheduledPausedOrTakenOverRunIsNot() {
        assertThat(RunReporter.movedOn(run("SCHEDULED", "AwaitingRetry", "stub:1"), "stub:1")).get().asString()
                .contains("'AwaitingRetry'");
        assertThat(RunReporter.movedOn(run("PAUSED", "Suspended", "stub:1"), "stub:1")).get().asString()
                .contains("'Suspended'");
        assertThat(RunReporter.movedOn(run("PENDING", "Pending", "stub:2"), "stub:1")).get().asString()
                .contains("another attempt on stub:2");
    }
}
