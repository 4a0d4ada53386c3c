package io.pworker.aci;

import com.azure.core.exception.HttpResponseException;
import com.azure.core.management.exception.ManagementError;
import com.azure.core.management.exception.ManagementException;
import com.azure.core.management.polling.PollResult;
import com.azure.json.JsonProviders;
import com.azure.json.JsonReader;
import com.azure.json.JsonToken;

/** Turns Azure SDK failures into one line for the user, with ARM's own code and message when there is one. */
final class AzureErrors {

    private AzureErrors() {
    }

    static boolean notFound(Throwable e) {
        return e instanceof HttpResponseException h && h.getResponse() != null && h.getResponse().getStatusCode() == 404;
    }

    /** ARM's error code ({@code "DeploymentActive"}), or null when the failure carries none. */
    static String code(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ManagementException m && m.getValue() != null && m.getValue().getCode() != null) {
                return m.getValue().getCode();
            }
        }
        return null;
    }

    /** {@code "<code>: <message>"} from ARM's error body, else the innermost message. */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ManagementException m && m.getValue() != null && m.getValue().getMessage() != null) {
                return describe(m.getValue());
            }
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
        return message.strip().replace('\n', ' ');
    }

    /**
     * A failed long-running operation: its status body holds ARM's error ({@code {"status": "Failed", "error":
     * {...}}}), which says why the deployment failed.
     */
    static String describe(PollResult.Error error) {
        String body = error.getResponseBody();
        if (body != null && !body.isBlank()) {
            try (JsonReader reader = JsonProviders.createReader(body)) {
                ManagementError parsed = reader.readObject(r -> {
                    ManagementError found = null;
                    while (r.nextToken() != JsonToken.END_OBJECT) {
                        String field = r.getFieldName();
                        r.nextToken();
                        if (field.equals("error")) {
                            found = ManagementError.fromJson(r);
                        } else {
                            r.skipChildren();
                        }
                    }
                    return found;
                });
                if (parsed != null && parsed.getMessage() != null) {
                    return describe(parsed);
                }
            } catch (java.io.IOException | RuntimeException e) {
                // not ARM's shape; fall back to the SDK's words
            }
        }
        return error.getMessage() == null ? "status " + error.getResponseStatusCode() : error.getMessage().strip();
    }

    static String describe(ManagementError error) {
        StringBuilder out = new StringBuilder();
        if (error.getCode() != null) {
            out.append(error.getCode()).append(": ");
        }
        out.append(error.getMessage().strip());
        // a failed deployment says "see details"; the details hold what actually went wrong
        if (error.getDetails() != null) {
            for (ManagementError detail : error.getDetails()) {
                if (detail.getMessage() != null) {
                    out.append(" (").append(describe(detail)).append(')');
                }
            }
        }
        return out.toString().replace('\n', ' ');
    }
}
