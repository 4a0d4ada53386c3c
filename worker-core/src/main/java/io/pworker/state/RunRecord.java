package io.pworker.state;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.RunHandle;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a worker remembers about one flow run it claimed, so that a later worker process can take over after a
 * crash. Only identifiers: never the job configuration (it may hold secrets) and never secrets themselves.
 *
 * @param type              the worker type that launched it
 * @param workPoolId        the pool's id; records of another pool (or of a pool deleted and created again) are
 *                          left alone
 * @param workerName        the worker that wrote it, for people reading the file
 * @param stage             how far the launch got
 * @param infrastructurePid the handle's public id, once {@link Stage#LAUNCHED}
 * @param pluginState       the handle's plugin-private ids, once {@link Stage#LAUNCHED}
 * @param launchedAt        when the infrastructure was started, once {@link Stage#LAUNCHED}
 */
public record RunRecord(String type, String flowRunId, String workPoolName, String workPoolId, String workerName,
        Stage stage, String infrastructurePid, Map<String, String> pluginState, Instant claimedAt, Instant launchedAt) {

    /** Bumped when the file format changes in a way an older reader would misread. */
    public static final int VERSION = 1;

    /**
     * How far a launch got. A crash in {@link #CLAIMED} left nothing behind (the run can be submitted again); in
     * {@link #LAUNCHING} the infrastructure may or may not exist; in {@link #LAUNCHED} the handle says where it is.
     */
    public enum Stage {
        CLAIMED, LAUNCHING, LAUNCHED
    }

    public RunRecord {
        pluginState = pluginState == null ? Map.of() : Map.copyOf(pluginState);
    }

    public static RunRecord claimed(String type, String flowRunId, String workPoolName, String workPoolId,
            String workerName, Instant now) {
        return new RunRecord(type, flowRunId, workPoolName, workPoolId, workerName, Stage.CLAIMED, null, Map.of(), now, null);
    }

    public RunRecord launching() {
        return new RunRecord(type, flowRunId, workPoolName, workPoolId, workerName, Stage.LAUNCHING, null, Map.of(),
                claimedAt, null);
    }

    public RunRecord launched(RunHandle handle, Instant now) {
        return new RunRecord(type, flowRunId, workPoolName, workPoolId, workerName, Stage.LAUNCHED,
                handle.infrastructurePid(), handle.state(), claimedAt, now);
    }

    /** The handle, for a launched run. */
    public RunHandle handle() {
        if (stage != Stage.LAUNCHED) {
            throw new IllegalStateException("flow run " + flowRunId + " has no infrastructure yet");
        }
        return new RunHandle(infrastructurePid, pluginState);
    }

    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("version", VERSION);
        o.put("type", type);
        o.put("flow_run_id", flowRunId);
        o.putObject("work_pool").put("name", workPoolName).put("id", workPoolId);
        o.put("worker_name", workerName);
        o.put("stage", stage.name().toLowerCase(java.util.Locale.ROOT));
        if (infrastructurePid != null) {
            o.put("infrastructure_pid", infrastructurePid);
        }
        ObjectNode state = o.putObject("plugin_state");
        pluginState.forEach(state::put);
        o.put("claimed_at", claimedAt.toString());
        if (launchedAt != null) {
            o.put("launched_at", launchedAt.toString());
        }
        return o;
    }

    /** Reads a record; the message of the exception says what is wrong with the file. */
    static RunRecord fromJson(JsonNode o) {
        if (!o.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        int version = o.path("version").asInt(-1);
        if (version != VERSION) {
            throw new IllegalArgumentException("unknown format version " + o.path("version")
                    + (version > VERSION ? " (written by a newer pworker)" : ""));
        }
        Stage stage;
        try {
            stage = Stage.valueOf(required(o, "stage").toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown stage '" + o.path("stage").asText() + "'");
        }
        Map<String, String> state = new LinkedHashMap<>();
        JsonNode s = o.path("plugin_state");
        if (!s.isMissingNode() && !s.isObject()) {
            throw new IllegalArgumentException("'plugin_state' is not an object");
        }
        s.properties().forEach(e -> state.put(e.getKey(), e.getValue().asText()));
        String pid = o.hasNonNull("infrastructure_pid") ? o.get("infrastructure_pid").asText() : null;
        if (stage == Stage.LAUNCHED && (pid == null || pid.isBlank())) {
            throw new IllegalArgumentException("a launched run without 'infrastructure_pid'");
        }
        return new RunRecord(required(o, "type"), required(o, "flow_run_id"), required(o.path("work_pool"), "name"),
                required(o.path("work_pool"), "id"), o.path("worker_name").asText(null), stage, pid, state,
                instant(o, "claimed_at", true), instant(o, "launched_at", false));
    }

    private static String required(JsonNode o, String field) {
        JsonNode v = o.get(field);
        if (v == null || !v.isTextual() || v.asText().isBlank()) {
            throw new IllegalArgumentException("missing '" + field + "'");
        }
        return v.asText();
    }

    private static Instant instant(JsonNode o, String field, boolean required) {
        if (!o.hasNonNull(field) && !required) {
            return null;
        }
        try {
            return Instant.parse(required(o, field));
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("'" + field + "' is not a timestamp");
        }
    }
}
