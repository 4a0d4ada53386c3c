package io.pworker.kubernetes;

import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.models.V1Pod;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import java.util.List;

/**
 * The end of a failed pod's {@code prefect-job} log: when a flow crashes before it could report, these lines are
 * often the only trace of why. The tail goes to the sink's failure log line by line (bounded, as Prefect's own
 * worker forwards at most 500 lines; the core passes it on to the run's log when the flow never started) and a
 * short excerpt goes into the reason of the phase that ends the run, so the Crashed message alone still says
 * something.
 */
final class LogTails {

    private final int lines;
    private final int maxCharacters;
    private final int excerptLines;
    private final int excerptCharacters;

    /**
     * @param lines             lines read from the pod's log and sent to the run's log
     * @param maxCharacters     at most this much of them (the oldest lines give way)
     * @param excerptLines      lines of it kept in the phase's reason
     * @param excerptCharacters at most this much in the reason
     */
    LogTails(int lines, int maxCharacters, int excerptLines, int excerptCharacters) {
        this.lines = lines;
        this.maxCharacters = maxCharacters;
        this.excerptLines = excerptLines;
        this.excerptCharacters = excerptCharacters;
    }

    /**
     * Sends the tail to the sink's log and returns the phase with the excerpt in its reason; the phase as it was
     * when the log cannot be read. Called before the phase is reported: the core may drop lines logged after it.
     */
    Phase withTail(Cluster cluster, V1Pod pod, Phase phase, PhaseSink sink) {
        List<String> tail = read(cluster, pod);
        if (tail.isEmpty()) {
            return phase;
        }
        String podName = pod.getMetadata().getName();
        sink.failureLog("Last " + tail.size() + " lines of pod " + podName + "'s log:");
        tail.forEach(sink::failureLog);
        String excerpt = excerpt(tail);
        String words = " Last lines of pod " + podName + "'s log:\n" + excerpt;
        if (phase instanceof Phase.Exited e) {
            String reason = e.status().reason() == null ? "" : e.status().reason();
            return new Phase.Exited(new ExitStatus(e.status().code(), (reason + words).strip()));
        }
        if (phase instanceof Phase.Gone g) {
            return new Phase.Gone(g.reason() + words);
        }
        return phase;
    }

    /** The last lines of the pod's log within the bounds; empty when there is none or it cannot be read. */
    private List<String> read(Cluster cluster, V1Pod pod) {
        if (pod == null) {
            return List.of();
        }
        String text;
        try {
            text = cluster.core().readNamespacedPodLog(pod.getMetadata().getName(), pod.getMetadata().getNamespace())
                    .container(KubernetesJobConfiguration.CONTAINER).tailLines(lines).execute();
        } catch (ApiException | RuntimeException e) {
            return List.of();
        }
        if (text == null || text.isBlank()) {
            return List.of();
        }
        List<String> all = text.strip().lines().toList();
        int from = all.size();
        int size = 0;
        while (from > 0 && size + all.get(from - 1).length() + 1 <= maxCharacters) {
            size += all.get(--from).length() + 1;
        }
        if (from == all.size()) {
            // one line longer than the cap: keep its end
            String last = all.get(all.size() - 1);
            return List.of("…" + last.substring(last.length() - maxCharacters));
        }
        return all.subList(from, all.size());
    }

    private String excerpt(List<String> tail) {
        String text = String.join("\n", tail.subList(Math.max(0, tail.size() - excerptLines), tail.size()));
        return text.length() > excerptCharacters ? "…" + text.substring(text.length() - excerptCharacters) : text;
    }
}
