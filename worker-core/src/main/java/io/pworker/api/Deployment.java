package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * What the worker uses of a deployment: its identity for labels and events, and its job variables.
 *
 * @param updated      when it last changed, as the API wrote it (for the {@code prefect.io/deployment-updated} label)
 * @param jobVariables its job variables, or null; the accessor hands out a copy
 */
public record Deployment(String id, String name, String updated, JsonNode jobVariables, List<String> tags) {

    public Deployment {
        jobVariables = PrefectText.copyOrNull(jobVariables);
        tags = List.copyOf(tags);
    }

    public static Deployment from(JsonNode deployment) {
        return new Deployment(PrefectText.text(deployment, "id"), PrefectText.text(deployment, "name"),
                PrefectText.text(deployment, "updated"), deployment.get("job_variables"),
                PrefectText.strings(deployment, "tags"));
    }

    @Override
    public JsonNode jobVariables() {
        return jobVariables == null ? null : jobVariables.deepCopy();
    }
}
