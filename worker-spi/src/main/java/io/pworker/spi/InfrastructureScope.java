package io.pworker.spi;

/**
 * Whose infrastructure {@link InfrastructureLauncher#discover} should list: what a plugin labelled its
 * infrastructure with at launch ({@code prefect.io/work-pool-id}, {@code prefect.io/worker-name} and the like).
 *
 * @param workPoolId   the pool's id; never null
 * @param workPoolName the pool's name
 * @param workerName   this worker's name, or null for every worker of the pool
 */
public record InfrastructureScope(String workPoolId, String workPoolName, String workerName) {
}
