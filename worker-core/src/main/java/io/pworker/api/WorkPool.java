package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What the worker uses of a work pool snapshot (worker-spec §2.2); other fields of the API's answer are ignored.
 *
 * @param baseJobTemplate the pool's template, or null when the pool has none; {@link #baseJobTemplate()} hands
 *                        out a copy, so a run being built never sees a later edit
 */
public record WorkPool(String id, String name, String type, boolean paused, JsonNode baseJobTemplate) {

    public WorkPool {
        baseJobTemplate = PrefectText.copyOrNull(baseJobTemplate);
    }

    public static WorkPool from(JsonNode pool) {
        return new WorkPool(PrefectText.text(pool, "id"), PrefectText.text(pool, "name"), PrefectText.text(pool, "type"),
                pool.path("is_paused").asBoolean(false), pool.get("base_job_template"));
    }

    @Override
    public JsonNode baseJobTemplate() {
        return baseJobTemplate == null ? null : baseJobTemplate.deepCopy();
    }

    /** Prefect installs the type's default template into a pool whose template is missing or {@code {}}. */
    public boolean hasTemplate() {
        return baseJobTemplate != null && !(baseJobTemplate.isObject() && baseJobTemplate.isEmpty());
    }

    public WorkPool withTemplate(ObjectNode template) {
        return new WorkPool(id, name, type, paused, template);
    }
}
