package io.pworker.api;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.UUID;

/** Builds {@code set_state} bodies the way Prefect's client does: every state_details key, a fresh transition id. */
public final class StateProposals {

    private StateProposals() {
    }

    public static ObjectNode body(String flowRunId, String type, String name, String message, boolean force) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode details = f.objectNode();
        details.put("flow_run_id", flowRunId);
        for (String key : new String[] {"task_run_id", "child_flow_run_id", "scheduled_time", "cache_key",
                "cache_expiration", "deferred"}) {
            details.putNull(key);
        }
        details.put("untrackable_result", false);
        details.putNull("pause_timeout");
        details.put("pause_reschedule", false);
        for (String key : new String[] {"pause_key", "run_input_keyset", "refresh_cache", "retriable"}) {
            details.putNull(key);
        }
        details.put("transition_id", UUID.randomUUID().toString());
        for (String key : new String[] {"task_parameters_id", "traceparent", "deployment_concurrency_lease_id"}) {
            details.putNull(key);
        }
        ObjectNode state = f.objectNode();
        state.put("type", type);
        state.put("name", name);
        if (message == null) {
            state.putNull("message");
        } else {
            state.put("message", message);
        }
        state.set("state_details", details);
        state.putNull("data");
        ObjectNode body = f.objectNode();
        body.set("state", state);
        body.put("force", force);
        return body;
    }
}
