package io.pworker.spi;

/**
 * Where a plugin reports what a watched run's infrastructure is doing. Given by the core with each
 * {@link InfrastructureLauncher#watch}; safe to call from any thread, any number of times. Repeating the current
 * phase is harmless; anything reported after a terminal phase is ignored.
 */
@FunctionalInterface
public interface PhaseSink {

    void report(Phase phase);

    /**
     * A line for the flow run's log in Prefect and the worker's log: a diagnosis while it waits, a reason it
     * failed (the infrastructure's own output goes to {@link #failureLog}). Never pass secrets. Lines after a
     * terminal phase may be dropped, so send them before reporting the phase.
     */
    default void log(String message) {
    }

    /**
     * A line of the infrastructure's own output, sent because it failed (the tail of a pod's or a task's log). The
     * core forwards these to the run's log only when the flow never started: a flow that started has shipped its
     * output to Prefect itself, and a second copy would only repeat it. Send them before reporting the terminal
     * phase. The default treats them as {@link #log} lines, for cores that do not tell the two apart.
     */
    default void failureLog(String line) {
        log(line);
    }

    /**
     * A Prefect event for a change the plugin saw its infrastructure go through, such as a pod's phase or a
     * container's status (see {@link InfrastructureEvent}). The core adds the flow run and the rest as related
     * resources, sets {@code follows} to the previous event of the same resource, and sends it without blocking;
     * it is lost, never retried by the plugin, when Prefect cannot take events. Send an event before reporting the
     * terminal phase it goes with: events after the watch is closed are dropped. The default drops it, for cores
     * that do not send infrastructure events.
     */
    default void event(InfrastructureEvent event) {
    }
}
