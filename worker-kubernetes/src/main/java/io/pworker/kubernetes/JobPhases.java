package io.pworker.kubernetes;

import io.kubernetes.client.openapi.models.V1ContainerStatus;
import io.kubernetes.client.openapi.models.V1Job;
import io.kubernetes.client.openapi.models.V1JobCondition;
import io.kubernetes.client.openapi.models.V1Pod;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import java.time.OffsetDateTime;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * What a flow run's Job is doing, read from the Job and its pods. The exit code is the {@code prefect-job}
 * container's in the latest pod; a Job that Kubernetes gave up on without one is {@link Phase.Gone} with
 * Kubernetes' reason.
 */
final class JobPhases {

    /** Kubernetes' default when a Job sets no backoffLimit. */
    private static final int DEFAULT_BACKOFF_LIMIT = 6;
    private static final Comparator<V1Pod> BY_CREATION = Comparator.comparing(
            (V1Pod p) -> p.getMetadata().getCreationTimestamp(), Comparator.nullsFirst(Comparator.<OffsetDateTime>naturalOrder()))
            .thenComparing(p -> p.getMetadata().getName());

    private JobPhases() {
    }

    /**
     * @param pods the Job's pods, in any order
     * @return the phase, or null while the Job is being deleted and has not succeeded (its end is the deletion)
     */
    static Phase of(V1Job job, List<V1Pod> pods) {
        List<V1Pod> ordered = pods.stream().sorted(BY_CREATION).toList();
        if (succeeded(job) || ordered.stream().anyMatch(p -> "Succeeded".equals(phase(p)))) {
            V1Pod done = ordered.reversed().stream().filter(p -> "Succeeded".equals(phase(p))).findFirst().orElse(null);
            Integer code = done == null ? null : exitCode(done);
            return Phase.Exited.of(code == null ? 0 : code);
        }
        if (job.getMetadata() != null && job.getMetadata().getDeletionTimestamp() != null) {
            return null;
        }
        List<V1Pod> failedPods = ordered.stream().filter(p -> "Failed".equals(phase(p))).toList();
        int failed = Math.max(job.getStatus() == null || job.getStatus().getFailed() == null ? 0
                : job.getStatus().getFailed(), failedPods.size());
        V1JobCondition failure = condition(job, "Failed");
        if (failure != null || failed > backoffLimit(job)) {
            V1Pod last = failedPods.isEmpty() ? null : failedPods.getLast();
            String reason = failure == null ? "Kubernetes job failed: its pods failed more often than backoffLimit "
                    + backoffLimit(job) + " allows."
                    : "Kubernetes job failed: " + failure.getReason() + ": " + failure.getMessage() + ".";
            String diagnosis = last == null ? null : PodDiagnosis.ended(last);
            if (diagnosis != null) {
                reason = reason + " " + diagnosis;
            }
            Integer code = last == null ? null : exitCode(last);
            return code != null && code != 0 ? new Phase.Exited(new ExitStatus(code, reason)) : new Phase.Gone(reason);
        }
        if (ordered.isEmpty()) {
            return new Phase.Pending("Waiting for Kubernetes to create the job's pod.");
        }
        V1Pod pod = ordered.getLast();
        return switch (String.valueOf(phase(pod))) {
            case "Running" -> new Phase.Running();
            case "Failed" -> new Phase.Pending("Kubernetes pod " + pod.getMetadata().getName() + " failed"
                    + (exitCode(pod) == null ? "" : " with exit code " + exitCode(pod)) + "; Kubernetes starts another "
                    + "(attempt " + (failed + 1) + " of " + (backoffLimit(job) + 1) + ").");
            default -> new Phase.Pending(PodDiagnosis.pending(pod));
        };
    }

    static boolean succeeded(V1Job job) {
        V1JobCondition complete = condition(job, "Complete");
        return complete != null || (job.getStatus() != null && job.getStatus().getSucceeded() != null
                && job.getStatus().getSucceeded() > 0);
    }

    /** The latest pod, or null. */
    static V1Pod latest(List<V1Pod> pods) {
        return pods.stream().max(BY_CREATION).orElse(null);
    }

    /** The name of the Job a pod belongs to, from the labels Kubernetes gives a Job's pods. */
    static String jobOf(V1Pod pod) {
        Map<String, String> labels = pod.getMetadata() == null ? null : pod.getMetadata().getLabels();
        if (labels != null) {
            String name = labels.getOrDefault("batch.kubernetes.io/job-name", labels.get("job-name"));
            if (name != null) {
                return name;
            }
        }
        if (pod.getMetadata() != null && pod.getMetadata().getOwnerReferences() != null) {
            return pod.getMetadata().getOwnerReferences().stream().filter(o -> "Job".equals(o.getKind()))
                    .map(o -> o.getName()).findFirst().orElse(null);
        }
        return null;
    }

    static Integer exitCode(V1Pod pod) {
        V1ContainerStatus c = PodDiagnosis.flowContainer(pod);
        if (c == null || c.getState() == null || c.getState().getTerminated() == null) {
            return null;
        }
        return c.getState().getTerminated().getExitCode();
    }

    private static int backoffLimit(V1Job job) {
        return job.getSpec() == null || job.getSpec().getBackoffLimit() == null ? DEFAULT_BACKOFF_LIMIT
                : job.getSpec().getBackoffLimit();
    }

    private static String phase(V1Pod pod) {
        return pod.getStatus() == null ? null : pod.getStatus().getPhase();
    }

    private static V1JobCondition condition(V1Job job, String type) {
        if (job.getStatus() == null || job.getStatus().getConditions() == null) {
            return null;
        }
        return job.getStatus().getConditions().stream()
                .filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus())).findFirst().orElse(null);
    }
}
