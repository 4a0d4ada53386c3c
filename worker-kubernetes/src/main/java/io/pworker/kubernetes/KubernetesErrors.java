package io.pworker.kubernetes;

import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.JSON;
import io.kubernetes.client.openapi.models.V1Status;

/** The API server's errors in words: its {@code Status} reason and message, and what to do about the usual ones. */
final class KubernetesErrors {

    private KubernetesErrors() {
    }

    /** {@code "<reason>: <message>"} from the Status body, or what the client knows when there is none. */
    static String message(ApiException e) {
        V1Status status = status(e);
        if (status != null && status.getMessage() != null) {
            return (status.getReason() == null ? "" : status.getReason() + ": ") + status.getMessage();
        }
        if (e.getCode() == 0) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            return "cannot reach the API server (" + cause + ")";
        }
        return "HTTP " + e.getCode() + (e.getMessage() == null ? "" : " " + e.getMessage());
    }

    /** prefect-kubernetes' error for a Job that could not be created, with a hint for the common causes. */
    static String jobCreationFailed(ApiException e, String namespace) {
        String text = "Unable to create Kubernetes job: " + message(e) + ".";
        String detail = String.valueOf(status(e) == null ? "" : status(e).getMessage());
        if (e.getCode() == 403 && detail.contains("exceeded quota")) {
            return text + " Hint: namespace '" + namespace + "' has used up its ResourceQuota; wait for other jobs to "
                    + "finish, lower the job's resource requests, or raise the quota.";
        }
        if (e.getCode() == 403) {
            return text + " Hint: the worker's service account may not create jobs there; give it a Role allowing "
                    + "create on jobs (API group batch) in namespace '" + namespace + "' (see the README's RBAC section).";
        }
        if (e.getCode() == 404 && detail.contains("namespace")) {
            return text + " Hint: namespace '" + namespace + "' does not exist; create it or set the work pool's "
                    + "namespace variable to an existing one.";
        }
        if (e.getCode() == 422 || e.getCode() == 400) {
            return text + " Hint: the API server rejected the job manifest; check the work pool's job_manifest.";
        }
        return text;
    }

    private static V1Status status(ApiException e) {
        String body = e.getResponseBody();
        if (body == null || !body.trim().startsWith("{")) {
            return null;
        }
        try {
            return JSON.deserialize(body, V1Status.class);
        } catch (RuntimeException ignored) {
            return null;
        }
    }
}
