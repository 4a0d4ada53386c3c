package io.pworker.spi;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * Something a plugin saw its infrastructure do, worth a Prefect event of its own, such as
 * {@code prefect.kubernetes.pod.running}. The core sends it with the flow run, its deployment, flow, tags, work pool
 * and this worker as related resources, so a plugin names only the infrastructure.
 *
 * <p>Label values end up in Prefect's event store, readable by anyone who can read events: never put secrets in
 * them (environment values, tokens, command lines).
 *
 * @param name       the event name, as Prefect's own worker for the type spells it
 * @param resourceId the infrastructure's resource id, e.g. {@code prefect.kubernetes.pod.<uid>}
 * @param labels     further resource labels ({@code prefect.resource.name}, {@code kubernetes.namespace}…), in order;
 *                   must not repeat {@code prefect.resource.id}
 * @param occurred   when it happened as the backend says, or null for when the core is told
 * @param id         a deterministic event id (a UUID) when Prefect derives one, so that two workers seeing the same
 *                   change send one event; null lets the core pick a fresh one
 */
public record InfrastructureEvent(String name, String resourceId, Map<String, String> labels, Instant occurred,
        String id) {

    public InfrastructureEvent {
        if (name == null || name.isBlank() || resourceId == null || resourceId.isBlank()) {
            throw new IllegalArgumentException("an infrastructure event needs a name and a resource id");
        }
        Map<String, String> copy = new LinkedHashMap<>();
        if (labels != null) {
            labels.forEach((k, v) -> {
                if (k == null || v == null) {
                    throw new IllegalArgumentException("event labels must not be null: " + k + "=" + v);
                }
                copy.put(k, v);
            });
        }
        if (copy.containsKey("prefect.resource.id")) {
            throw new IllegalArgumentException("the resource id is given as resourceId, not as a label");
        }
        labels = Collections.unmodifiableMap(copy);
        if (id != null) {
            // the events API takes only UUIDs; failing here names the plugin's mistake instead of a dropped event
            id = UUID.fromString(id).toString();
        }
    }

    /** An event that happened now, with a fresh id. */
    public static InfrastructureEvent of(String name, String resourceId, Map<String, String> labels) {
        return new InfrastructureEvent(name, resourceId, labels, null, null);
    }
}
