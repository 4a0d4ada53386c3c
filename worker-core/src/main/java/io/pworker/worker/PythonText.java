package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Turns env and label values into text as Prefect's pydantic models do ({@code True}, not {@code true}),
 * so a flow that reads {@code os.environ} sees what it would under Prefect's worker.
 */
final class PythonText {

    private PythonText() {
    }

    static String str(JsonNode value) {
        if (value.isTextual()) {
            return value.asText();
        }
        if (value.isBoolean()) {
            return value.asBoolean() ? "True" : "False";
        }
        if (value.isNull()) {
            return "None";
        }
        if (value.isFloatingPointNumber()) {
            double d = value.asDouble();
            return d == Math.rint(d) && Math.abs(d) < 1e16 ? String.format("%.1f", d) : Double.toString(d);
        }
        return value.isValueNode() ? value.asText() : value.toString();
    }
}
