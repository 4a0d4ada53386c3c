package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/** A Prefect API answer: status and, when there was one, the JSON body (text bodies become text nodes). */
public record ApiResponse(int status, JsonNode body) {

    public boolean ok() {
        return status >= 200 && status < 300;
    }

    public Optional<JsonNode> json() {
        return Optional.ofNullable(body);
    }
}
