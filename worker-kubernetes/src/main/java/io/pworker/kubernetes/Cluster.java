package io.pworker.kubernetes;

import io.kubernetes.client.openapi.ApiClient;
import io.kubernetes.client.openapi.apis.BatchV1Api;
import io.kubernetes.client.openapi.apis.CoreV1Api;

/**
 * One Kubernetes API server as the launcher reaches it.
 *
 * @param description how it was found, for messages ("the kubeconfig /root/.kube/config (context 'kind')")
 * @param calls       client for ordinary requests
 * @param watches     client for long-running watch streams
 */
record Cluster(String description, ApiClient calls, ApiClient watches) {

    BatchV1Api batch() {
        return new BatchV1Api(calls);
    }

    CoreV1Api core() {
        return new CoreV1Api(calls);
    }

    String server() {
        return calls.getBasePath();
    }
}
