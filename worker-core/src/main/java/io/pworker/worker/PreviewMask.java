package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pworker.logging.SecretMask;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code pworker render} hides before it prints a job configuration or a plugin's preview. The shapes are the
 * backends' own, so secrets are found by the names around them rather than by where they sit.
 */
final class PreviewMask {

    /** Environment variables whose values are credentials by their name. */
    private static final Pattern SECRET_NAME = Pattern.compile("(?i).*(API_KEY|AUTH_STRING|SECRET|TOKEN|PASSWORD).*");
    /** {@code NAME=value}, as Docker's {@code Env} holds an environment. */
    private static final Pattern ASSIGNMENT = Pattern.compile("([A-Za-z_][A-Za-z0-9_.-]*)=(.*)", Pattern.DOTALL);
    /** Where a {@code {"name": …}} entry keeps its value (Kubernetes and Cloud Run: value; ACI: secureValue too). */
    private static final Set<String> VALUE_FIELDS = Set.of("value", "secureValue");
    /** Fields that hold an environment as an object of name → value. */
    private static final Set<String> ENVIRONMENT_FIELDS = Set.of("env", "environment", "Env", "environment_variables");
    /** Other fields that hold credentials: the same words, and a kubeconfig's or a service-account key's keys. */
    private static final Pattern CREDENTIAL_FIELD = Pattern.compile(
            "(?i).*(API_KEY|AUTH_STRING|SECRET|TOKEN|PASSWORD|KEY-DATA|KEY_DATA|PRIVATE_KEY).*");
    /** A field that names a secret (Kubernetes' secretName, api_key_secret_name) rather than holding one. */
    private static final Pattern NAMES_A_SECRET = Pattern.compile("(?i).*name");

    private PreviewMask() {
    }

    /**
     * Hides credentials before a configuration or a plugin's preview is shown: values whose name says they are
     * secret (API keys, auth strings, tokens, passwords) in the shapes environments take — an {@code env}
     * object's fields, {@code {"name": N, "value": V}} entries (a Kubernetes container's env, Cloud Run's, ACI's)
     * and {@code "NAME=value"} strings (Docker's {@code Env}) —, fields elsewhere whose key says they hold a
     * credential (a kubeconfig's {@code token} and {@code client-key-data}, a service account's
     * {@code private_key}), and the worker's own credentials wherever they appear.
     */
    static ObjectNode mask(ObjectNode configuration) {
        ObjectNode out = configuration.deepCopy();
        maskNode(out, "");
        return out;
    }

    /** @param field the name of the field that holds {@code node} */
    private static void maskNode(JsonNode node, String field) {
        if (node instanceof ObjectNode object) {
            boolean namedSecret = object.path("name").isTextual() && secretName(object.path("name").asText());
            boolean environment = ENVIRONMENT_FIELDS.contains(field);
            object.properties().forEach(e -> {
                JsonNode value = e.getValue();
                if (value.isTextual()) {
                    // in an environment every secret-sounding variable is masked; elsewhere a key such as
                    // Kubernetes' secretName says where a secret is kept, which is no secret
                    boolean secret = (environment ? secretName(e.getKey())
                            : CREDENTIAL_FIELD.matcher(e.getKey()).matches() && !NAMES_A_SECRET.matcher(e.getKey()).matches())
                            || namedSecret && VALUE_FIELDS.contains(e.getKey());
                    e.setValue(TextNode.valueOf(secret ? SecretMask.MASK : maskText(value.asText())));
                } else {
                    maskNode(value, e.getKey());
                }
            });
        } else if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                if (array.get(i).isTextual()) {
                    array.set(i, TextNode.valueOf(maskText(array.get(i).asText())));
                } else {
                    maskNode(array.get(i), field);
                }
            }
        }
    }

    /** The worker's credentials anywhere in the text, and the value of a {@code NAME=value} whose name is secret. */
    private static String maskText(String text) {
        Matcher assignment = ASSIGNMENT.matcher(text);
        if (assignment.matches() && secretName(assignment.group(1))) {
            return assignment.group(1) + "=" + SecretMask.MASK;
        }
        return SecretMask.mask(text);
    }

    private static boolean secretName(String name) {
        return SECRET_NAME.matcher(name).matches();
    }
}
