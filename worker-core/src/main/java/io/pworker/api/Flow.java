package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/**
 * What the worker uses of a flow.
 *
 * @param fields its top-level scalar fields, for {@code {{ ctx.flow.<field> }}} in an infrastructure name
 */
public record Flow(String id, String name, List<String> tags, Map<String, JsonNode> fields) {

    public Flow {
        tags = List.copyOf(tags);
        fields = Map.copyOf(fields);
    }

    public static Flow from(JsonNode flow) {
        return new Flow(PrefectText.text(flow, "id"), PrefectText.text(flow, "name"), PrefectText.strings(flow, "tags"),
                PrefectText.scalars(flow));
    }
}
