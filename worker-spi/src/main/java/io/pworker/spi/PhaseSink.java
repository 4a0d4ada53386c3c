package io.pworker.spi;

/**
 * Where a plugin reports what a watched run's infrastructure is doing. Given by the core with each
 * {@link InfrastructureLauncher#watch}; safe to call from any thread, any number of times. Repeating the current
 * phase is harmless; anything reported after a terminal phase is ignored.
 */
@FunctionalInterface
public interface PhaseSink {

    void report(Phase phase);
}
