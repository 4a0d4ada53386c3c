package io.pworker.kubernetes;

import io.kubernetes.client.openapi.models.V1ContainerState;
import io.kubernetes.client.openapi.models.V1ContainerStatus;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1PodCondition;
import io.pworker.spi.InfrastructureEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The {@code prefect.kubernetes.pod.<phase>} events prefect-kubernetes' observer sends for a flow run's pods: one per
 * change of a pod's phase, restart count or diagnosis, with the pod's uid as resource and an id derived from what
 * changed, so that the same change seen twice (a re-list, a second worker) is one event in Prefect.
 */
final class PodEvents {

    /** RFC 4122's URL namespace, the one Prefect's observer derives its event ids in. */
    private static final UUID URL_NAMESPACE = UUID.fromString("6ba7b811-9dad-11d1-80b4-00c04fd430c8");
    private static final Set<String> IMAGE_PULL = Set.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName",
            "ErrImageNeverPull", "RegistryUnavailable");

    private PodEvents() {
    }

    /** What identifies a pod's state for events; a new key is a new event. Null for a pod without uid or phase. */
    static String key(V1Pod pod) {
        if (uid(pod) == null || pod.getStatus() == null || pod.getStatus().getPhase() == null) {
            return null;
        }
        return canonical(pod);
    }

    /** The event for the pod's current state; call only when {@link #key} is not null. */
    static InfrastructureEvent of(V1Pod pod) {
        String phase = pod.getStatus().getPhase();
        String terminatedReason = terminatedReason(pod);
        // the observer names a failed pod whose container was ended for a reason (OOMKilled, Error…) "evicted"
        boolean evicted = "Failed".equals(phase) && (terminatedReason != null || "Evicted".equals(pod.getStatus().getReason()));
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("prefect.resource.name", pod.getMetadata().getName());
        if (pod.getMetadata().getNamespace() != null) {
            labels.put("kubernetes.namespace", pod.getMetadata().getNamespace());
        }
        String diagnosis = diagnosis(pod);
        if (diagnosis != null) {
            labels.put("kubernetes.diagnosis", diagnosis);
        }
        if (evicted) {
            labels.put("kubernetes.reason", terminatedReason != null ? terminatedReason : pod.getStatus().getReason());
        }
        String name = "prefect.kubernetes.pod." + (evicted ? "evicted" : phase.toLowerCase(Locale.ROOT));
        return new InfrastructureEvent(name, "prefect.kubernetes.pod." + uid(pod), labels, occurred(pod),
                uuid5(URL_NAMESPACE, canonical(pod)).toString());
    }

    /**
     * A short code for what is wrong with the pod, in the observer's vocabulary ({@code OOMKilled},
     * {@code ImagePullBackOff}, {@code Unschedulable.InsufficientResources}…), or null when nothing is.
     */
    static String diagnosis(V1Pod pod) {
        if ("Evicted".equals(pod.getStatus().getReason())) {
            return "Evicted";
        }
        String terminated = terminatedReason(pod);
        if ("OOMKilled".equals(terminated)) {
            return terminated;
        }
        V1ContainerStatus c = PodDiagnosis.flowContainer(pod);
        V1ContainerState state = c == null ? null : c.getState();
        String waiting = state == null || state.getWaiting() == null ? null : state.getWaiting().getReason();
        if (waiting != null && (IMAGE_PULL.contains(waiting) || "CrashLoopBackOff".equals(waiting))) {
            return waiting;
        }
        V1PodCondition scheduled = pod.getStatus().getConditions() == null ? null : pod.getStatus().getConditions()
                .stream().filter(x -> "PodScheduled".equals(x.getType())).findFirst().orElse(null);
        if (scheduled != null && "False".equals(scheduled.getStatus()) && "Unschedulable".equals(scheduled.getReason())) {
            String m = scheduled.getMessage() == null ? "" : scheduled.getMessage();
            return m.contains("Insufficient") ? "Unschedulable.InsufficientResources"
                    : m.contains("affinity") || m.contains("selector") ? "Unschedulable.NodeAffinity"
                    : m.contains("taint") ? "Unschedulable.Taint" : "Unschedulable";
        }
        return null;
    }

    /** The JSON the event id is derived from: uid, phase, restart count and diagnosis, keys sorted. */
    private static String canonical(V1Pod pod) {
        V1ContainerStatus c = PodDiagnosis.flowContainer(pod);
        int restarts = c == null || c.getRestartCount() == null ? 0 : c.getRestartCount();
        String diagnosis = diagnosis(pod);
        return "{\"diagnosis\": " + (diagnosis == null ? "null" : quote(diagnosis)) + ", \"phase\": "
                + quote(pod.getStatus().getPhase()) + ", \"restart_count\": " + restarts + ", \"uid\": "
                + quote(uid(pod)) + "}";
    }

    /** When the change happened by the pod's own clocks: the container's end or start, else the pod's start. */
    private static Instant occurred(V1Pod pod) {
        V1ContainerStatus c = PodDiagnosis.flowContainer(pod);
        V1ContainerState s = c == null ? null : c.getState();
        OffsetDateTime t = null;
        if (s != null && s.getTerminated() != null) {
            t = s.getTerminated().getFinishedAt();
        } else if (s != null && s.getRunning() != null) {
            t = s.getRunning().getStartedAt();
        }
        if (t == null) {
            t = pod.getStatus().getStartTime();
        }
        return t == null ? null : t.toInstant();
    }

    private static String terminatedReason(V1Pod pod) {
        V1ContainerStatus c = PodDiagnosis.flowContainer(pod);
        return c == null || c.getState() == null || c.getState().getTerminated() == null ? null
                : c.getState().getTerminated().getReason();
    }

    private static String uid(V1Pod pod) {
        return pod.getMetadata() == null ? null : pod.getMetadata().getUid();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /** A name-based UUID with SHA-1 (version 5); the JDK only makes the MD5 kind. */
    static UUID uuid5(UUID namespace, String name) {
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            sha1.update(ByteBuffer.allocate(16).putLong(namespace.getMostSignificantBits())
                    .putLong(namespace.getLeastSignificantBits()).array());
            byte[] h = sha1.digest(name.getBytes(StandardCharsets.UTF_8));
            h[6] = (byte) ((h[6] & 0x0f) | 0x50);
            h[8] = (byte) ((h[8] & 0x3f) | 0x80);
            ByteBuffer b = ByteBuffer.wrap(h, 0, 16);
            return new UUID(b.getLong(), b.getLong());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is part of every JDK", e);
        }
    }
}
