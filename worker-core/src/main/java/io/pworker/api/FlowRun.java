package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the worker uses of a flow run, read once from the API's answer.
 *
 * @param jobVariables      the run's own job variables, or null; the accessor hands out a copy
 * @param stateType         {@code SCHEDULED}, {@code PENDING}, {@code RUNNING}, {@code CANCELLING}, … or null
 * @param stateName         the state's name ({@code Late}, {@code Submitting}, {@code InfrastructurePending}, …)
 * @param infrastructurePid what a worker wrote as {@code infrastructure_pid}, or null
 * @param started           the engine has reported RUNNING at least once ({@code start_time} is set)
 * @param fields            top-level scalar fields, for {@code {{ ctx.flow_run.<field> }}} in an infrastructure name
 */
public record FlowRun(String id, String name, String flowId, String deploymentId, JsonNode jobVariables,
        List<String> tags, String stateType, String stateName, String infrastructurePid, boolean started,
        Map<String, JsonNode> fields) {

    private static final Set<String> FINAL = Set.of("COMPLETED", "FAILED", "CANCELLED", "CRASHED");

    public FlowRun {
        jobVariables = PrefectText.copyOrNull(jobVariables);
        tags = List.copyOf(tags);
        fields = Map.copyOf(fields);
    }

    public static FlowRun from(JsonNode run) {
        String pid = PrefectText.text(run, "infrastructure_pid");
        return new FlowRun(PrefectText.text(run, "id"), PrefectText.text(run, "name"), PrefectText.text(run, "flow_id"),
                PrefectText.text(run, "deployment_id"), run.get("job_variables"), PrefectText.strings(run, "tags"),
                PrefectText.text(run, "state_type"), PrefectText.text(run, "state_name"),
                pid == null || pid.isBlank() ? null : pid, run.hasNonNull("start_time"), PrefectText.scalars(run));
    }

    @Override
    public JsonNode jobVariables() {
        return jobVariables == null ? null : jobVariables.deepCopy();
    }

    /** Completed, failed, cancelled or crashed: nothing the worker does can change it any more. */
    public boolean isFinal() {
        return stateType != null && FINAL.contains(stateType);
    }

    public boolean is(String type) {
        return type.equals(stateType);
    }
}
