package io.pworker.template;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;
// STUB until the renderer lands
public interface PlaceholderResolver {
    JsonNode blockDocument(String blockDocumentId) throws TemplateException;
    JsonNode block(String typeSlug, String documentName) throws TemplateException;
    Optional<JsonNode> variable(String name) throws TemplateException;
}
