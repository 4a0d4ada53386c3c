package io.pworker.spi;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;

/**
 * The live side of a plugin: starts, observes, stops and finds again the infrastructure of flow runs. The shape
 * follows a task driver's start / wait / stop / recover: the core may crash at any moment and start again, so
 * every call after {@link #launch} must work for infrastructure this launcher instance never started.
 *
 * <p>Every method after {@link #launch} takes the run's {@link RunHandle} and its job configuration. The
 * configuration is rendered again by the core for each call after a restart (as Prefect re-renders it before a
 * kill), so read from it what the handle does not carry (namespace, region, credentials), and expect it to be the
 * pool's current template rather than the one the run was launched with. A handle rebuilt from nothing but the
 * {@code infrastructure_pid} ({@link RunHandle#ofPid}) must work too.
 *
 * <p>Thread safety: the core calls these methods concurrently, from one virtual thread per flow run and from its
 * reconciler; {@link #kill} may run while a {@link #watch} of the same run reports.
 */
public interface InfrastructureLauncher extends AutoCloseable {

    /**
     * Creates and starts the infrastructure for one flow run and returns once it exists. Idempotent per flow run:
     * the infrastructure carries the flow-run id (label, tag or name), and a launch that finds infrastructure of
     * the same run (a retried launch, a launch by a worker that crashed before recording the handle) adopts it
     * and returns its handle instead of creating a second one. The returned handle's
     * {@link RunHandle#infrastructurePid()} is written to the flow run as {@code infrastructure_pid}, in the
     * format Prefect's worker of the same type uses.
     *
     * <p>Cancellable: the core interrupts the launching thread when the run is cancelled or the worker stops
     * while a launch is still pulling or waiting. The launcher then stops waiting, removes what it has created
     * when it can, and throws {@link InterruptedException}.
     *
     * @throws LaunchException when nothing was started (bad configuration, image pull failure, quota, …);
     *     the core marks the run Crashed with this message, so make it say what to fix
     */
    RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException;

    /**
     * Starts observing the run's infrastructure and returns at once. The sink receives the current phase soon
     * after, then every change, until a terminal phase ({@link Phase.Exited} or {@link Phase.Gone}) or until the
     * returned {@link Watch} is closed. Transient backend failures are the launcher's to retry; when it gives up,
     * it reports {@link Phase.Gone} with the reason. One launcher should serve many watches with few threads (a
     * shared event stream or batched status call) where the backend allows it.
     *
     * @throws InfrastructureException when the watch cannot even start (handle of another backend, …)
     */
    Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException;

    /**
     * One look at the run's infrastructure, without waiting: {@link Phase.Pending}, {@link Phase.Running},
     * {@link Phase.Exited} with the code when it can still be known, or {@link Phase.Gone}. Used after a worker
     * restart for every run the core had in flight.
     *
     * @throws InfrastructureException when the backend cannot be asked right now; the core asks again later
     */
    Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException, InterruptedException;

    /**
     * Stops the infrastructure: a graceful signal first, a forced stop after {@code grace}. Returns once it is
     * gone or the forced stop was delivered. Only called when {@link Capabilities#killable()}. A watch of the run
     * then reports how it ended.
     */
    KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
            throws InfrastructureException, InterruptedException;

    /**
     * Infrastructure labelled for the scope, with the flow run each belongs to, for the core's reconciler to
     * find orphans (infrastructure whose run the core has no handle for). Empty when the backend cannot list by
     * label (local processes).
     */
    default List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException, InterruptedException {
        return List.of();
    }

    /**
     * The core is done with the run: free what the launcher keeps for it (temporary directories, log streams,
     * recorded exit codes) and remove the infrastructure where the configuration asks for that (auto-remove,
     * a finished Job without TTL, …). Called at most once per run after its final report, possibly by a later
     * worker process than the one that launched it. Never removes infrastructure the configuration asks to keep.
     */
    default void release(RunHandle handle, ObjectNode configuration) {
    }

    /** Closes clients and ends watches. Called once, after the last call to any other method; never stops flow runs. */
    @Override
    default void close() {
    }
}
