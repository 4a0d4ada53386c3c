package io.pworker.spi;

import java.time.Duration;
import java.util.Optional;

/**
 * The live side of a plugin: starts, watches and stops the infrastructure of flow runs.
 *
 * <p>Thread safety: the core calls these methods concurrently from one virtual thread per flow run, and
 * {@link #kill} may run while another thread is blocked in {@link #await} for the same handle.
 *
 * <p>Every method after {@link #launch} takes a {@link RunHandle}. A handle rebuilt from nothing but the
 * {@code infrastructure_pid} ({@link RunHandle#ofPid}) must work too: that is how a run launched by another
 * worker process, or before a restart, is found again.
 */
public interface InfrastructureLauncher extends AutoCloseable {

    /**
     * Creates and starts the infrastructure for one flow run and returns as soon as it exists. The returned
     * handle's {@link RunHandle#infrastructurePid()} is written to the flow run as {@code infrastructure_pid},
     * in the format Prefect's worker of the same type uses.
     *
     * @throws LaunchException when nothing was started (bad configuration, image pull failure, quota, …);
     *     the core marks the run Crashed with this message, so make it say what to fix
     */
    RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException;

    /**
     * Blocks until the infrastructure has finished or the timeout passes. The core calls it again after a
     * timeout, so it must not have side effects that repeat.
     *
     * @return the exit status, or empty when the timeout passed first
     * @throws InfrastructureException when the backend cannot be asked (engine gone, credentials expired);
     *     the core retries for a while and then reports the run as crashed with this message
     */
    Optional<ExitStatus> await(RunHandle handle, Duration timeout) throws InfrastructureException, InterruptedException;

    /**
     * Stops the infrastructure: a graceful signal first, a forced stop after {@code grace}. Returns once it is
     * gone or the forced stop was delivered. Only called when {@link Capabilities#killable()}.
     */
    KillOutcome kill(RunHandle handle, Duration grace) throws InfrastructureException, InterruptedException;

    /**
     * Frees what the launcher keeps locally for a run (temporary directories, log streams). Called at most
     * once per handle after the core is done with the run. Never removes infrastructure the configuration
     * asks to keep.
     */
    default void release(RunHandle handle) {
    }

    /** Closes clients. Called once, after the last call to any other method; must not stop flow runs. */
    @Override
    default void close() {
    }
}
