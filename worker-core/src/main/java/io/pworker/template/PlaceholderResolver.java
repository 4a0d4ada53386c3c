package io.pworker.template;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/** Looks up what block and variable placeholders refer to; the core implements it over the Prefect API. */
public interface PlaceholderResolver {

    /** The {@code data} of the block document with this id, for {@code {"$ref":{"block_document_id":…}}}. */
    JsonNode blockDocument(String blockDocumentId) throws TemplateException;

    /** The {@code data} of the block document of this type and name; throws naming both when it is missing. */
    JsonNode block(String typeSlug, String documentName) throws TemplateException;

    /** The variable's JSON value, empty when no such variable exists. */
    Optional<JsonNode> variable(String name) throws TemplateException;
}
