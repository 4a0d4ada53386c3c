package io.pworker.spi;

import java.util.List;

/**
 * Identity of a flow run being launched; ids are UUID strings, names may be null when unknown.
 */
public record FlowRunInfo(
        String id,
        String name,
        String flowId,
        String flowName,
        String deploymentId,
        String deploymentName,
        String workPoolName,
        String workPoolId,
        String workerName,
        List<String> tags) {

    public FlowRunInfo {
        tags = tags == null ? List.of() : List.copyOf(tags);
    }
}
