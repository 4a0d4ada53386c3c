package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The server's answer to a state proposal.
 *
 * @param status       ACCEPT, REJECT, ABORT or WAIT
 * @param stateType    type of the state the run is in afterwards ({@code null} when the server sent none)
 * @param stateName    its name
 * @param reason       the server's reason for anything but ACCEPT
 * @param delaySeconds for WAIT, how long to wait before proposing again
 */
public record OrchestrationResult(String status, String stateType, String stateName, String reason, double delaySeconds) {

    public static OrchestrationResult from(JsonNode body) {
        JsonNode state = body.path("state");
        JsonNode details = body.path("details");
        return new OrchestrationResult(
                body.path("status").asText(),
                state.isObject() ? state.path("type").asText(null) : null,
                state.isObject() ? state.path("name").asText(null) : null,
                details.path("reason").asText(null),
                details.path("delay_seconds").asDouble(0));
    }

    public boolean accepted() {
        return "ACCEPT".equals(status);
    }
}
