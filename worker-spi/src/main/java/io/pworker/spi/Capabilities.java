package io.pworker.spi;

/**
 * What a type's launcher can do, declared up front so that the core decides without trying.
 *
 * @param killable       {@link InfrastructureLauncher#kill} stops the infrastructure (enables cancellation)
 * @param outlivesWorker the infrastructure keeps running when the worker process stops gracefully (containers,
 *                       Jobs, tasks). When false (local processes), the core stops running flows on a graceful
 *                       shutdown, as Prefect's process worker does. Either way, after a crash of the worker the
 *                       core finds its runs again with {@link InfrastructureLauncher#recover}.
 */
public record Capabilities(boolean killable, boolean outlivesWorker) {
}
