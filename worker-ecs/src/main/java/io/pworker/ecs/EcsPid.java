package io.pworker.ecs;

import io.pworker.spi.InfrastructureException;
import io.pworker.spi.RunHandle;

/**
 * Prefect's {@code infrastructure_pid} for ECS: {@code "<cluster name or ARN>::<task ARN>"}, the configured cluster
 * name when one was set, else the cluster's ARN.
 */
record EcsPid(String cluster, String taskArn) {

    static EcsPid of(RunHandle handle) throws InfrastructureException {
        String pid = handle.infrastructurePid();
        int split = pid.indexOf("::");
        if (split <= 0 || split + 2 >= pid.length()) {
            throw new InfrastructureException("'" + pid + "' is not an ECS infrastructure pid (<cluster>::<task ARN>)");
        }
        return new EcsPid(pid.substring(0, split), pid.substring(split + 2));
    }

    /** The region named in the task ARN ({@code arn:aws:ecs:<region>:<account>:task/…}), or null for a bare id. */
    String region() {
        String[] parts = taskArn.split(":", 6);
        return parts.length == 6 && parts[0].equals("arn") ? parts[3] : null;
    }

    @Override
    public String toString() {
        return cluster + "::" + taskArn;
    }
}
