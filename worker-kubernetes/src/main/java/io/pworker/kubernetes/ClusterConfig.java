package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;

/**
 * A {@code kubernetes-cluster-config} block as the core resolves it into the job configuration: a whole kubeconfig
 * as an object, and the context to use. {@link #toString()} leaves the kubeconfig out: it holds credentials.
 */
record ClusterConfig(ObjectNode kubeconfig, String contextName) {

    /** The block under {@code cluster_config}, or null when the configuration names none. */
    static ClusterConfig of(ObjectNode configuration) throws LaunchException {
        JsonNode v = configuration.get("cluster_config");
        if (v == null || v.isNull() || (v.isObject() && v.isEmpty())) {
            return null;
        }
        if (!v.isObject() || !v.path("config").isObject()) {
            throw new LaunchException("invalid job configuration 'cluster_config': expected a kubernetes-cluster-config "
                    + "block with 'config' (a kubeconfig as an object) and 'context_name'");
        }
        JsonNode context = v.get("context_name");
        if (context != null && !context.isNull() && !context.isTextual()) {
            throw new LaunchException("invalid job configuration 'cluster_config': 'context_name' must be a string");
        }
        return new ClusterConfig((ObjectNode) v.get("config"),
                context == null || context.isNull() || context.asText().isBlank() ? null : context.asText());
    }

    @Override
    public String toString() {
        return "ClusterConfig[context=" + contextName + "]";
    }
}
