package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The shape every flow-run Job manifest must have, checked the way prefect-kubernetes does it: the manifest is
 * compared with a minimal Job, and what it lacks or sets differently is listed by JSON pointer, with the same
 * messages, so a pool that fails under Prefect fails here with the same words.
 */
final class ManifestCheck {

    private static final JsonNode REQUIRED;

    static {
        try {
            REQUIRED = new ObjectMapper().readTree("""
                    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"labels": {}},
                     "spec": {"template": {"spec": {"parallelism": 1, "completions": 1, "restartPolicy": "Never",
                       "containers": [{"name": "prefect-job"}]}}}}""");
        } catch (java.io.IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private ManifestCheck() {
    }

    static void requireFlowRunJob(ObjectNode manifest) throws LaunchException {
        List<String> missing = new ArrayList<>();
        List<String> incompatible = new ArrayList<>();
        compare("", manifest, REQUIRED, missing, incompatible);
        if (!missing.isEmpty()) {
            throw new LaunchException("invalid job configuration 'job_manifest': Job is missing required attributes "
                    + "at the following paths: " + String.join(", ", missing.stream().sorted().toList()));
        }
        if (!incompatible.isEmpty()) {
            throw new LaunchException("invalid job configuration 'job_manifest': Job has incompatible values for the "
                    + "following attributes: " + String.join(", ", incompatible.stream().sorted().toList()));
        }
    }

    private static void compare(String path, JsonNode actual, JsonNode required, List<String> missing,
            List<String> incompatible) {
        if (required.isObject() && actual.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = required.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String child = path + "/" + e.getKey().replace("~", "~0").replace("/", "~1");
                if (!actual.has(e.getKey())) {
                    missing.add(child);
                } else {
                    compare(child, actual.get(e.getKey()), e.getValue(), missing, incompatible);
                }
            }
        } else if (required.isArray() && actual.isArray()) {
            for (int i = 0; i < required.size(); i++) {
                if (i >= actual.size()) {
                    missing.add(path + "/" + i);
                } else {
                    compare(path + "/" + i, actual.get(i), required.get(i), missing, incompatible);
                }
            }
        } else if (!required.equals(actual)) {
            incompatible.add(path + " must have value " + pythonRepr(required));
        }
    }

    /** How Python prints the expected value in Prefect's message: strings in single quotes. */
    private static String pythonRepr(JsonNode v) {
        return v.isTextual() ? "'" + v.asText() + "'" : v.toString();
    }
}
