package io.pworker.spi;

/**
 * What a type's launcher can do, declared up front so that the core decides without trying.
 *
 * @param killable        {@link InfrastructureLauncher#kill} stops the infrastructure (enables cancellation)
 * @param outlivesWorker  the infrastructure keeps running when the worker process exits (containers, Jobs,
 *                        tasks). When false (local processes), the core stops running flows on shutdown.
 * @param watchesToExit   {@link InfrastructureLauncher#await} reports the real end of the flow run, so the core
 *                        holds a {@code --limit} slot and decides Crashed until it returns. Types that only
 *                        submit (Kubernetes, ECS) set this false and leave crash detection to an observer.
 */
public record Capabilities(boolean killable, boolean outlivesWorker, boolean watchesToExit) {
}
