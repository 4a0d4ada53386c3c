package io.pworker.kubernetes;

import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.models.V1Pod;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;

/**
 * The end of a failed pod's {@code prefect-job} log, added to the phase that ends its run: when a flow crashes
 * before it could report, these lines are often the only trace of why.
 */
final class LogTails {

    private final int lines;
    private final int maxCharacters;

    LogTails(int lines, int maxCharacters) {
        this.lines = lines;
        this.maxCharacters = maxCharacters;
    }

    /** The phase with the tail in its reason; the phase as it was when the log cannot be read. */
    Phase withTail(Cluster cluster, V1Pod pod, Phase phase) {
        if (pod == null) {
            return phase;
        }
        String tail;
        try {
            tail = cluster.core().readNamespacedPodLog(pod.getMetadata().getName(), pod.getMetadata().getNamespace())
                    .container(KubernetesJobConfiguration.CONTAINER).tailLines(lines).execute();
        } catch (ApiException | RuntimeException e) {
            return phase;
        }
        if (tail == null || tail.isBlank()) {
            return phase;
        }
        tail = tail.strip();
        if (tail.length() > maxCharacters) {
            tail = "…" + tail.substring(tail.length() - maxCharacters);
        }
        String words = " Last lines of pod " + pod.getMetadata().getName() + "'s log:\n" + tail;
        if (phase instanceof Phase.Exited e) {
            String reason = e.status().reason() == null ? "" : e.status().reason();
            return new Phase.Exited(new ExitStatus(e.status().code(), (reason + words).strip()));
        }
        if (phase instanceof Phase.Gone g) {
            return new Phase.Gone(g.reason() + words);
        }
        return phase;
    }
}
