package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Typed reads of the Prefect objects the worker works with. The requests are {@link PrefectClient}'s, unchanged;
 * this only turns each answer into a record once, at the edge, so the rest of the worker never walks JSON.
 */
public final class PrefectObjects {

    private final PrefectClient client;

    public PrefectObjects(PrefectClient client) {
        this.client = client;
    }

    public PrefectClient client() {
        return client;
    }

    public Optional<WorkPool> workPool(String name) throws ApiException, InterruptedException {
        return client.readWorkPool(name).map(WorkPool::from);
    }

    /** Creates the pool; empty when another worker created it first. */
    public Optional<WorkPool> createWorkPool(String name, String type, JsonNode baseJobTemplate)
            throws ApiException, InterruptedException {
        return client.createWorkPool(name, type, baseJobTemplate).map(WorkPool::from);
    }

    /** The runs of {@code get_scheduled_flow_runs}; entries without a flow run are skipped. */
    public List<FlowRun> scheduledFlowRuns(String pool, Collection<String> queues, Instant scheduledBefore)
            throws ApiException, InterruptedException {
        return client.scheduledFlowRuns(pool, queues, scheduledBefore).stream()
                .map(item -> item.path("flow_run"))
                .filter(run -> run.hasNonNull("id") && !run.get("id").asText().isEmpty())
                .map(FlowRun::from)
                .toList();
    }

    public Optional<FlowRun> flowRun(String id) throws ApiException, InterruptedException {
        return client.readFlowRun(id).map(FlowRun::from);
    }

    /** The runs among {@code ids} whose state type is one of {@code stateTypes}, in one request. */
    public List<FlowRun> flowRuns(Collection<String> ids, Collection<String> stateTypes)
            throws ApiException, InterruptedException {
        ObjectNode filter = JsonNodeFactory.instance.objectNode();
        ArrayNode anyId = filter.putObject("id").putArray("any_");
        ids.stream().sorted().forEach(anyId::add);
        ArrayNode anyType = filter.putObject("state").putObject("type").putArray("any_");
        stateTypes.forEach(anyType::add);
        return client.filterFlowRuns(filter, null).stream().map(FlowRun::from).toList();
    }

    public Optional<Deployment> deployment(String id) throws ApiException, InterruptedException {
        return client.readDeployment(id).map(Deployment::from);
    }

    public Optional<Flow> flow(String id) throws ApiException, InterruptedException {
        return client.readFlow(id).map(Flow::from);
    }
}
