package io.pworker.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Map;

/**
 * One HTTP request the fake received.
 *
 * @param path    path below the API root, e.g. {@code /work_pools/p/get_scheduled_flow_runs}
 * @param query   raw query string or null
 * @param headers header names in lower case
 * @param body    JSON body, or null
 * @param time    when it arrived
 */
public record RecordedRequest(String method, String path, String query, Map<String, String> headers, JsonNode body,
        Instant time) {
}
