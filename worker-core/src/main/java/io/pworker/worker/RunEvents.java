package io.pworker.worker;

import io.pworker.api.EventEmitter;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureEvent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The worker's events ({@code prefect.worker.*}) with Prefect's resource and related-resource labels (worker-spec §5.1). */
final class RunEvents {

    private final EventEmitter emitter;
    private final String type;
    private final String workerName;
    private final String poolName;

    RunEvents(EventEmitter emitter, String type, String workerName, String poolName) {
        this.emitter = emitter;
        this.type = type;
        this.workerName = workerName;
        this.poolName = poolName;
    }

    String started(String poolId) {
        return emitter.emit("prefect.worker.started", worker(), pool(poolId), null);
    }

    void stopped(String poolId, String startedId) {
        emitter.emit("prefect.worker.stopped", worker(), pool(poolId), startedId);
    }

    String submitted(FlowRunInfo run) {
        return emitter.emit("prefect.worker.submitted-flow-run", worker(), related(run, null, null), null);
    }

    /** @param follows the submitted event's id, or null when another worker process submitted the run */
    void executed(FlowRunInfo run, String infrastructurePid, int statusCode, String follows) {
        emitter.emit("prefect.worker.executed-flow-run", worker(), related(run, infrastructurePid, statusCode), follows);
    }

    /**
     * A plugin's infrastructure event. Related resources as Prefect's observers give them: the run's, then this
     * worker in the {@code worker} role.
     *
     * @param follows the id of the previous event of the same resource, or null
     */
    String infrastructure(FlowRunInfo run, InfrastructureEvent e, String follows) {
        Map<String, String> resource = new LinkedHashMap<>();
        resource.put("prefect.resource.id", e.resourceId());
        resource.putAll(e.labels());
        List<Map<String, String>> related = related(run, null, null);
        Map<String, String> worker = worker();
        worker.put("prefect.resource.role", "worker");
        related.add(worker);
        return emitter.emit(e.name(), e.occurred(), e.id(), resource, related, follows);
    }

    private Map<String, String> worker() {
        Map<String, String> r = new LinkedHashMap<>();
        r.put("prefect.resource.id", "prefect.worker." + type + "." + Slug.of(workerName));
        r.put("prefect.resource.name", workerName);
        r.put("prefect.version", Worker.PREFECT_VERSION);
        r.put("prefect.worker-type", type);
        return r;
    }

    private List<Map<String, String>> pool(String poolId) {
        if (poolId == null) {
            return List.of();
        }
        return List.of(ordered("prefect.resource.id", "prefect.work-pool." + poolId, "prefect.resource.role", "work-pool",
                "prefect.resource.name", poolName));
    }

    private List<Map<String, String>> related(FlowRunInfo run, String infrastructurePid, Integer statusCode) {
        List<Map<String, String>> out = new ArrayList<>();
        if (run.deploymentId() != null) {
            out.add(ordered("prefect.resource.id", "prefect.deployment." + run.deploymentId(), "prefect.resource.role",
                    "deployment", "prefect.resource.name", run.deploymentName()));
        }
        if (run.flowId() != null && run.flowName() != null) {
            out.add(ordered("prefect.resource.id", "prefect.flow." + run.flowId(), "prefect.resource.role", "flow",
                    "prefect.resource.name", run.flowName()));
        }
        Map<String, String> flowRun = ordered("prefect.resource.id", "prefect.flow-run." + run.id(),
                "prefect.resource.role", "flow-run", "prefect.resource.name", run.name());
        if (infrastructurePid != null) {
            flowRun.put("prefect.infrastructure.identifier", infrastructurePid);
            flowRun.put("prefect.infrastructure.status-code", String.valueOf(statusCode));
        }
        out.add(flowRun);
        for (String tag : run.tags()) {
            out.add(ordered("prefect.resource.id", "prefect.tag." + tag, "prefect.resource.role", "tag"));
        }
        out.addAll(pool(run.workPoolId()));
        return out;
    }

    /** Labels in the given order; a null value leaves its label out. */
    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] != null) {
                m.put(kv[i], kv[i + 1]);
            }
        }
        return m;
    }
}
