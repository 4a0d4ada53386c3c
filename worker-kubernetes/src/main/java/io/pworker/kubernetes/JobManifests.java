package io.pworker.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubernetes.client.openapi.JSON;
import io.kubernetes.client.openapi.models.V1Job;
import io.pworker.spi.LaunchException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** From a prepared manifest (JSON) to client-java's {@link V1Job}, which is what goes over the wire. */
final class JobManifests {

    private static final ObjectMapper JSON_TREES = new ObjectMapper();

    private JobManifests() {
    }

    /**
     * The Job to create. Unset template values (nulls) are left out. Prefect's default template puts
     * {@code parallelism} and {@code completions} in the pod spec, where Kubernetes has no such fields and drops
     * them; they move to the Job spec, where 1 is what they mean (and Kubernetes' default), so the body is a
     * valid Job. Any other field Kubernetes does not know is an error naming it.
     */
    static V1Job toJob(ObjectNode manifest) throws LaunchException {
        ObjectNode copy = manifest.deepCopy();
        dropNulls(copy);
        JsonNode podSpec = copy.at("/spec/template/spec");
        if (podSpec instanceof ObjectNode ps && copy.get("spec") instanceof ObjectNode spec) {
            for (String field : List.of("parallelism", "completions")) {
                JsonNode v = ps.remove(field);
                if (v != null && !spec.has(field)) {
                    spec.set(field, v);
                }
            }
        }
        try {
            return JSON.deserialize(JSON_TREES.writeValueAsString(copy), V1Job.class);
        } catch (JsonProcessingException | RuntimeException e) {
            throw new LaunchException("invalid job configuration 'job_manifest': not a valid Kubernetes Job: "
                    + withoutBody(e.getMessage()));
        }
    }

    /**
     * client-java's validation messages end with the whole JSON document, which carries environment values;
     * only the sentence naming the field is kept.
     */
    static String withoutBody(String message) {
        if (message == null) {
            return "unreadable";
        }
        int json = message.indexOf(" JSON: ");
        return json < 0 ? message : message.substring(0, json);
    }

    private static void dropNulls(JsonNode node) {
        if (node instanceof ObjectNode o) {
            List<String> nulls = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : o.properties()) {
                if (e.getValue().isNull()) {
                    nulls.add(e.getKey());
                } else {
                    dropNulls(e.getValue());
                }
            }
            o.remove(nulls);
        } else if (node instanceof ArrayNode a) {
            a.forEach(JobManifests::dropNulls);
        }
    }
}
