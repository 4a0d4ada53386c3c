package io.pworker.worker;

import io.pworker.api.LogShipper;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import io.pworker.metrics.WorkerMetrics;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.state.RunStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What every run supervisor works with, built once by {@link Worker}. Plain collaborators; the supervisors keep
 * their own state.
 *
 * @param logs      ships run logs to Prefect, or null when that is off
 * @param pool      the latest pool snapshot, once the pool has been read
 * @param killGrace SIGTERM → SIGKILL grace given to {@code kill}
 * @param metrics   where the runs' claims, launches, ends and failures are counted
 */
record RunServices(
        String workerName,
        String type,
        Capabilities capabilities,
        Duration killGrace,
        PrefectObjects prefect,
        Submission submission,
        ConfigurationBuilder configurations,
        RunReporter reporter,
        RunEvents events,
        LogShipper logs,
        InfrastructureLauncher launcher,
        RunStore store,
        Supplier<Optional<WorkPool>> pool,
        Clock clock,
        WorkerMetrics metrics) {
}
