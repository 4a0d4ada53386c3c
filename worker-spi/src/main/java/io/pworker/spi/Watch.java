package io.pworker.spi;

/**
 * A running observation of one flow run's infrastructure, returned by {@link InfrastructureLauncher#watch}.
 * Closing it stops reports to the sink (the worker is shutting down, or no longer needs them); it never stops the
 * infrastructure. Closing twice, or after a terminal phase, is harmless.
 */
@FunctionalInterface
public interface Watch extends AutoCloseable {

    @Override
    void close();
}
