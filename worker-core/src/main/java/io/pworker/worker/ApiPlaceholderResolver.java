package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.pworker.api.ApiException;
import io.pworker.api.PrefectClient;
import io.pworker.template.PlaceholderResolver;
import io.pworker.template.TemplateException;
import java.util.Optional;

/** Resolves block and variable placeholders through the Prefect API for one rendering. */
final class ApiPlaceholderResolver implements PlaceholderResolver {

    private final PrefectClient client;

    ApiPlaceholderResolver(PrefectClient client) {
        this.client = client;
    }

    @Override
    public JsonNode blockDocument(String blockDocumentId) throws TemplateException {
        return call(() -> client.readBlockDocument(blockDocumentId))
                .map(doc -> doc.path("data"))
                .orElseThrow(() -> new TemplateException("Block document not found: id '" + blockDocumentId
                        + "' (referenced by the job configuration); it may have been deleted"));
    }

    @Override
    public JsonNode block(String typeSlug, String documentName) throws TemplateException {
        return call(() -> client.readBlockDocument(typeSlug, documentName))
                .map(doc -> doc.path("data"))
                .orElseThrow(() -> new TemplateException("Block not found: '" + documentName + "' of type '" + typeSlug
                        + "' (referenced as {{ prefect.blocks." + typeSlug + "." + documentName + " }})"));
    }

    @Override
    public Optional<JsonNode> variable(String name) throws TemplateException {
        return call(() -> client.readVariable(name)).map(v -> v.path("value"));
    }

    private interface Call {
        Optional<JsonNode> run() throws ApiException, InterruptedException;
    }

    private static Optional<JsonNode> call(Call call) throws TemplateException {
        try {
            return call.run();
        } catch (ApiException e) {
            throw new TemplateException("cannot resolve a placeholder: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TemplateException("interrupted while resolving placeholders");
        }
    }
}
