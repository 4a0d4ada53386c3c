package io.pworker.kubernetes;

import io.kubernetes.client.openapi.models.V1ContainerState;
import io.kubernetes.client.openapi.models.V1ContainerStatus;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1PodCondition;
import java.util.List;
import java.util.Set;

/**
 * Why a pod is not running, in prefect-kubernetes' words: {@code "<summary>: <detail> Resolution: <what to do>"}.
 * The text depends only on the pod's reported state, so it stays the same while nothing changes (the core logs
 * each new text once).
 */
final class PodDiagnosis {

    private static final Set<String> IMAGE_PULL = Set.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName",
            "ErrImageNeverPull", "RegistryUnavailable");
    private static final Set<String> CONFIG = Set.of("CreateContainerConfigError", "CreateContainerError");

    private PodDiagnosis() {
    }

    /** A pending pod: what it waits for. */
    static String pending(V1Pod pod) {
        V1ContainerStatus container = flowContainer(pod);
        V1ContainerState state = container == null ? null : container.getState();
        if (state != null && state.getWaiting() != null && state.getWaiting().getReason() != null) {
            String reason = state.getWaiting().getReason();
            String message = orEmpty(state.getWaiting().getMessage());
            if (IMAGE_PULL.contains(reason)) {
                return "Image pull failure: " + reason + ": " + message + " Resolution: check the image name and tag, "
                        + "that the cluster can reach the registry, and that the pod has the imagePullSecrets it needs.";
            }
            if (CONFIG.contains(reason)) {
                return "Container configuration error: " + reason + ": " + message + " Resolution: check that the "
                        + "Secrets and ConfigMaps the job references exist in namespace " + namespace(pod) + ".";
            }
        }
        V1PodCondition scheduled = condition(pod, "PodScheduled");
        if (scheduled != null && "False".equals(scheduled.getStatus()) && "Unschedulable".equals(scheduled.getReason())) {
            String message = orEmpty(scheduled.getMessage());
            if (message.contains("Insufficient")) {
                return "Insufficient resources: " + message + " Resolution: lower the job's cpu and memory requests, "
                        + "or add capacity to the cluster.";
            }
            if (message.contains("affinity") || message.contains("selector")) {
                return "Unschedulable (node affinity): " + message + " Resolution: check the job's nodeSelector and "
                        + "affinity against the labels of the cluster's nodes.";
            }
            if (message.contains("taint")) {
                return "Unschedulable (taints): " + message + " Resolution: give the job tolerations for the nodes' "
                        + "taints, or run it on untainted nodes.";
            }
            return "Unschedulable: " + message + " Resolution: check the job's scheduling constraints.";
        }
        if (state != null && state.getWaiting() != null && state.getWaiting().getReason() != null) {
            return "Kubernetes pod " + pod.getMetadata().getName() + " is pending: " + state.getWaiting().getReason() + ".";
        }
        return "Kubernetes pod " + pod.getMetadata().getName() + " is pending.";
    }

    /** A pod that ended: what killed it when the exit code alone does not say (OOM, eviction), or null. */
    static String ended(V1Pod pod) {
        if (pod.getStatus() != null && "Evicted".equals(pod.getStatus().getReason())) {
            return "Evicted: " + orEmpty(pod.getStatus().getMessage()) + " Resolution: give the job resource requests "
                    + "that match its use, or run it on nodes with more room.";
        }
        V1ContainerStatus container = flowContainer(pod);
        if (container != null && container.getState() != null && container.getState().getTerminated() != null
                && "OOMKilled".equals(container.getState().getTerminated().getReason())) {
            return "OOMKilled: the container used more memory than its limit. Resolution: raise memory_limit, or make "
                    + "the flow use less memory.";
        }
        return null;
    }

    /** The {@code prefect-job} container's status, or the first container's. */
    static V1ContainerStatus flowContainer(V1Pod pod) {
        List<V1ContainerStatus> statuses = pod.getStatus() == null ? null : pod.getStatus().getContainerStatuses();
        if (statuses == null || statuses.isEmpty()) {
            return null;
        }
        return statuses.stream().filter(s -> KubernetesJobConfiguration.CONTAINER.equals(s.getName())).findFirst()
                .orElse(statuses.getFirst());
    }

    private static V1PodCondition condition(V1Pod pod, String type) {
        if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
            return null;
        }
        return pod.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    }

    private static String namespace(V1Pod pod) {
        return pod.getMetadata() == null ? "?" : pod.getMetadata().getNamespace();
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s.strip();
    }
}
