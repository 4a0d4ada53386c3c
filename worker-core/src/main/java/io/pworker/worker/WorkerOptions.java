package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * What {@code pworker start} was asked to do; the flags of {@code prefect worker start}.
 *
 * @param pool                   work pool name
 * @param workQueues             queue names to serve; empty means every queue of the pool
 * @param name                   worker name, or null for {@code "<WorkerClass> <uuid>"}
 * @param type                   worker type, or null to use the pool's
 * @param limit                  maximum concurrent flow runs, or null
 * @param prefetchSeconds        look-ahead for scheduled runs, or null for the setting
 * @param runOnce                one sync and one poll, then exit when the runs end
 * @param withHealthcheck        serve {@code GET /health}
 * @param baseJobTemplate        template for a pool this worker creates, or null for the type's default
 * @param createPoolIfNotFound   create the pool when it does not exist
 */
public record WorkerOptions(
        String pool,
        List<String> workQueues,
        String name,
        String type,
        Integer limit,
        Integer prefetchSeconds,
        boolean runOnce,
        boolean withHealthcheck,
        JsonNode baseJobTemplate,
        boolean createPoolIfNotFound) {

    public WorkerOptions {
        workQueues = workQueues == null ? List.of() : List.copyOf(workQueues);
    }

    public static WorkerOptions of(String pool, String type) {
        return new WorkerOptions(pool, List.of(), null, type, null, null, false, false, null, true);
    }

    public WorkerOptions withName(String value) {
        return new WorkerOptions(pool, workQueues, value, type, limit, prefetchSeconds, runOnce, withHealthcheck,
                baseJobTemplate, createPoolIfNotFound);
    }

    public WorkerOptions withLimit(Integer value) {
        return new WorkerOptions(pool, workQueues, name, type, value, prefetchSeconds, runOnce, withHealthcheck,
                baseJobTemplate, createPoolIfNotFound);
    }

    public WorkerOptions withRunOnce(boolean value) {
        return new WorkerOptions(pool, workQueues, name, type, limit, prefetchSeconds, value, withHealthcheck,
                baseJobTemplate, createPoolIfNotFound);
    }

    public WorkerOptions withHealthcheck(boolean value) {
        return new WorkerOptions(pool, workQueues, name, type, limit, prefetchSeconds, runOnce, value,
                baseJobTemplate, createPoolIfNotFound);
    }

    public WorkerOptions withWorkQueues(List<String> value) {
        return new WorkerOptions(pool, value, name, type, limit, prefetchSeconds, runOnce, withHealthcheck,
                baseJobTemplate, createPoolIfNotFound);
    }
}
