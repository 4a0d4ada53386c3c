package io.pworker.testkit;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request;
import com.atlassian.oai.validator.model.SimpleRequest;
import com.atlassian.oai.validator.model.SimpleResponse;
import com.atlassian.oai.validator.report.ValidationReport;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Checks HTTP exchanges and WebSocket frames against the OpenAPI document served by a real Prefect 3.4.25
 * server (API 0.8.4). HTTP bodies go through Atlassian's OpenAPI 3.1 validator; event frames, which the
 * document only describes as schemas, through a JSON Schema validator against its components.
 */
public final class ContractValidator {

    private static final String DOCUMENT = "prefect-openapi.json";

    /** Parsing the 400 KB document takes seconds; one immutable validator serves the whole JVM. */
    private static final class Holder {
        static final ContractValidator INSTANCE = new ContractValidator();
    }

    private final OpenApiInteractionValidator http;
    private final Schema event;
    private final Schema eventFilter;

    private ContractValidator() {
        String text;
        try (InputStream in = ContractValidator.class.getResourceAsStream(DOCUMENT)) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.http = OpenApiInteractionValidator.createForInlineApiSpecification(text).build();
        try {
            ObjectNode doc = (ObjectNode) new ObjectMapper().readTree(text);
            this.event = componentSchema(doc, "Event");
            this.eventFilter = componentSchema(doc, "EventFilter");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static ContractValidator get() {
        return Holder.INSTANCE;
    }

    /** A standalone schema for one component, carrying the components so that its {@code $ref}s resolve. */
    private static Schema componentSchema(ObjectNode doc, String name) {
        ObjectNode schema = doc.objectNode();
        schema.put("$ref", "#/components/schemas/" + name);
        schema.set("components", doc.get("components"));
        return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schema);
    }

    /** Problems with a request as the worker sent it; {@code path} is below the API root. */
    public List<String> checkRequest(String method, String path, String query, String contentType, String body) {
        return messages(http.validateRequest(request(method, path, query, contentType, body)), method, path, "request");
    }

    /** Problems with a response the fake is about to send. */
    public List<String> checkResponse(String method, String path, int status, String body) {
        List<String> found = response(method, path, status, body);
        if (found.stream().anyMatch(m -> m.contains("Response status " + status + " not defined"))) {
            if (status == 201) {
                // the real server answers 201 where the document only declares 200 (set_state): same body schema
                return response(method, path, 200, body);
            }
            if (status >= 400) {
                // error statuses the document does not declare (404 from most routes) carry {"detail": …}
                return List.of();
            }
        }
        return found;
    }

    private List<String> response(String method, String path, int status, String body) {
        SimpleResponse.Builder b = SimpleResponse.Builder.status(status);
        if (body != null && !body.isEmpty()) {
            b.withContentType("application/json").withBody(body);
        }
        return messages(http.validateResponse(path, Request.Method.valueOf(method.toUpperCase(Locale.ROOT)), b.build()),
                method, path, "response " + status);
    }

    public List<String> checkEvent(JsonNode event) {
        return schemaMessages(this.event, event, "event frame");
    }

    public List<String> checkEventFilter(JsonNode filter) {
        return schemaMessages(eventFilter, filter, "events/out filter");
    }

    private static List<String> schemaMessages(Schema schema, JsonNode node, String what) {
        List<String> out = new ArrayList<>();
        schema.validate(node).forEach(e -> out.add(what + ": " + e.getMessage()));
        return out;
    }

    private static Request request(String method, String path, String query, String contentType, String body) {
        SimpleRequest.Builder b = new SimpleRequest.Builder(method.toUpperCase(Locale.ROOT), path);
        if (query != null) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    b.withQueryParam(decode(pair.substring(0, eq)), decode(pair.substring(eq + 1)));
                } else if (!pair.isEmpty()) {
                    b.withQueryParam(decode(pair), "");
                }
            }
        }
        if (body != null && !body.isEmpty()) {
            b.withContentType(contentType == null ? "application/json" : contentType).withBody(body);
        }
        return b.build();
    }

    private static String decode(String s) {
        return java.net.URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static List<String> messages(ValidationReport report, String method, String path, String what) {
        List<String> out = new ArrayList<>();
        for (ValidationReport.Message m : report.getMessages()) {
            if (m.getLevel() == ValidationReport.Level.ERROR) {
                out.add(method + " " + path + " " + what + ": " + m.getMessage().replace('\n', ' '));
            }
        }
        return out;
    }
}
