package io.pworker.cloudrun;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Google Cloud's label rules: keys and values of at most 63 lower-case letters, digits, {@code _} and {@code -},
 * keys starting with a letter, at most 64 labels on a resource. Prefect's labels ({@code prefect.io/flow-run-id})
 * are rewritten to fit ({@code prefect_io_flow-run-id}).
 */
final class GcpLabels {

    static final int MAX_LABELS = 64;
    static final int MAX_LENGTH = 63;
    /** The label that ties a job to its flow run; launch finds a job again by it. */
    static final String FLOW_RUN_ID = key("prefect.io/flow-run-id");
    static final String WORK_POOL_ID = key("prefect.io/work-pool-id");
    static final String WORKER_NAME = key("prefect.io/worker-name");

    private GcpLabels() {
    }

    static String key(String key) {
        String k = value(key);
        if (k.isEmpty() || k.charAt(0) < 'a' || k.charAt(0) > 'z') {
            k = value("l_" + k);
        }
        return k;
    }

    static String value(String value) {
        String v = value.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_-]", "_");
        return v.length() > MAX_LENGTH ? v.substring(0, MAX_LENGTH) : v;
    }

    /**
     * The template's own labels as they are (they win on a clash), then Prefect's, rewritten, in their order of
     * importance until the limit is reached: the labels listed last are the ones dropped.
     */
    static Map<String, String> merge(Map<String, String> prefect, Map<String, String> template) {
        Map<String, String> out = new LinkedHashMap<>(template);
        for (Map.Entry<String, String> e : prefect.entrySet()) {
            if (out.size() >= MAX_LABELS) {
                break;
            }
            out.putIfAbsent(key(e.getKey()), value(e.getValue()));
        }
        return out;
    }
}
