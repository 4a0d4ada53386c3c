package io.pworker.template;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
// STUB until the renderer lands
public final class JobTemplateRenderer {
    public JobTemplateRenderer(Map<String, String> environment) { }
    public ObjectNode render(JsonNode baseJobTemplate, ObjectNode jobVariables, PlaceholderResolver resolver) throws TemplateException { throw new TemplateException("stub"); }
}
