package io.pworker.spi;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Whose infrastructure {@link InfrastructureLauncher#discover} should list: what a plugin labelled its
 * infrastructure with at launch ({@code prefect.io/work-pool-id}, {@code prefect.io/worker-name} and the like).
 *
 * @param workPoolId    the pool's id; never null
 * @param workPoolName  the pool's name
 * @param workerName    this worker's name, or null for every worker of the pool
 * @param configuration the pool's base job template rendered with its defaults only (no deployment, no run), for
 *                      where to look: the namespace, region, project, cluster or resource group and credentials a
 *                      cloud plugin needs to list. Empty when the core has none
 */
public record InfrastructureScope(String workPoolId, String workPoolName, String workerName, ObjectNode configuration) {

    public InfrastructureScope {
        configuration = configuration == null ? JsonNodeFactory.instance.objectNode() : configuration;
    }

    /** A scope without a configuration: the plugin looks only where it already knows to look. */
    public InfrastructureScope(String workPoolId, String workPoolName, String workerName) {
        this(workPoolId, workPoolName, workerName, null);
    }
}
