package io.pworker.ecs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.core.util.SdkAutoConstructList;
import software.amazon.awssdk.core.util.SdkAutoConstructMap;
import software.amazon.awssdk.services.ecs.model.TaskDefinition;

/**
 * Between the JSON of job configurations (ECS's own field names, as Prefect's templates use them) and the SDK's
 * model, through the builders' Jackson-friendly form ({@code serializableBuilderClass()}), which the SDK offers
 * for exactly this.
 */
final class SdkJson {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

    private SdkJson() {
    }

    /** A described definition as JSON in the request's shape (timestamps left out: they never match anyway). */
    static ObjectNode json(TaskDefinition td) {
        return JSON.valueToTree(td.toBuilder().registeredAt(null).deregisteredAt(null).deleteRequestedAt(null));
    }

    /** JSON in ECS's request shape as an SDK builder; an unknown field or a wrong type names where it is. */
    static <B> B request(ObjectNode json, Class<B> builder, String key) throws LaunchException {
        try {
            return JSON.treeToValue(json, builder);
        } catch (UnrecognizedPropertyException e) {
            throw new LaunchException("invalid job configuration '" + key + path(e, true) + "': ECS has no field '"
                    + e.getPropertyName() + "'");
        } catch (JsonProcessingException e) {
            String where = e instanceof JsonMappingException m ? path(m, false) : "";
            throw new LaunchException("invalid job configuration '" + key + where + "': a value has the wrong type ("
                    + e.getOriginalMessage().lines().findFirst().orElse("") + ")");
        }
    }

    /**
     * A request (or any model object) as the JSON the SDK sends for it, walked through the model's own field
     * metadata: wire names, unset fields left out, lists and maps set to empty kept, as the JSON marshaller does.
     */
    static ObjectNode wire(SdkPojo pojo) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (SdkField<?> field : pojo.sdkFields()) {
            Object value = field.getValueOrDefault(pojo);
            if (value != null && !(value instanceof SdkAutoConstructList) && !(value instanceof SdkAutoConstructMap)) {
                out.set(field.locationName(), wireValue(value));
            }
        }
        return out;
    }

    private static JsonNode wireValue(Object value) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (value) {
            case SdkPojo pojo -> wire(pojo);
            case List<?> list -> {
                ArrayNode array = f.arrayNode();
                list.forEach(v -> array.add(v == null ? f.nullNode() : wireValue(v)));
                yield array;
            }
            case Map<?, ?> map -> {
                ObjectNode object = f.objectNode();
                map.forEach((k, v) -> object.set(String.valueOf(k), v == null ? f.nullNode() : wireValue(v)));
                yield object;
            }
            case Instant instant -> f.numberNode(BigDecimal.valueOf(instant.toEpochMilli(), 3));
            case SdkBytes bytes -> f.textNode(java.util.Base64.getEncoder().encodeToString(bytes.asByteArray()));
            default -> JSON.valueToTree(value);
        };
    }

    private static String path(JsonMappingException e, boolean withoutLast) {
        List<JsonMappingException.Reference> refs = e.getPath();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < refs.size() - (withoutLast ? 1 : 0); i++) {
            JsonMappingException.Reference r = refs.get(i);
            out.append(r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]");
        }
        return out.toString();
    }
}
