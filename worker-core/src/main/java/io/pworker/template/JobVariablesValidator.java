package io.pworker.template;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
// STUB until the renderer lands
public final class JobVariablesValidator {
    public static void checkTemplate(JsonNode t) throws TemplateException { }
    public static List<String> validate(JsonNode t, ObjectNode v) { return List.of(); }
}
