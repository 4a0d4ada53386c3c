package io.pworker.aci;

import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureScope;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tags a flow run's container group carries so that the core's orphan search can find it by pool. Other
 * types label with {@code prefect.io/...}, but Azure tag names may not contain {@code /} (nor {@code <>%&\?}),
 * so these are dashed; values are cut to Azure's 256 characters.
 */
final class AciTags {

    static final String FLOW_RUN_ID = "prefect-flow-run-id";
    static final String WORK_POOL_ID = "prefect-work-pool-id";
    static final String WORKER_NAME = "prefect-worker-name";
    private static final int MAX_VALUE = 256;

    private AciTags() {
    }

    /** The tags for a run's group; a value the core does not know is left out rather than written empty. */
    static Map<String, String> of(FlowRunInfo run) {
        Map<String, String> tags = new LinkedHashMap<>();
        put(tags, FLOW_RUN_ID, run.id());
        put(tags, WORK_POOL_ID, run.workPoolId());
        put(tags, WORKER_NAME, run.workerName());
        return tags;
    }

    /** The flow run a group belongs to when its tags put it in the scope, else null. */
    static String runIn(Map<String, String> tags, InfrastructureScope scope) {
        if (tags == null || !scope.workPoolId().equals(tags.get(WORK_POOL_ID))) {
            return null;
        }
        if (scope.workerName() != null && !cut(scope.workerName()).equals(tags.get(WORKER_NAME))) {
            return null;
        }
        String run = tags.get(FLOW_RUN_ID);
        return run == null || run.isBlank() ? null : run;
    }

    private static void put(Map<String, String> tags, String name, String value) {
        if (value != null && !value.isBlank()) {
            tags.put(name, cut(value));
        }
    }

    private static String cut(String value) {
        return value.length() > MAX_VALUE ? value.substring(0, MAX_VALUE) : value;
    }
}
