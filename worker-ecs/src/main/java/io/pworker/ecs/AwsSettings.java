package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import io.pworker.spi.LaunchException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where and as whom the AWS clients connect, read from an {@code aws-credentials} block (resolved by the core into
 * the job configuration's {@code aws_credentials}). Unset fields fall back to the AWS SDK's own defaults: the
 * default credential chain and region chain. {@link #toString()} never shows the secret key or the session token,
 * so a record printed by accident leaks nothing.
 *
 * @param endpointUrl   {@code aws_client_parameters.endpoint_url}, for a VPC endpoint or a local fake such as moto
 * @param verifyTls     false when {@code aws_client_parameters.verify} is false: any server certificate is trusted
 * @param caBundle      a PEM file of the certificate authorities to trust instead of the JDK's
 *                      ({@code aws_client_parameters.verify_cert_path}, or the deprecated path form of
 *                      {@code verify}), or null; ignored when {@code verifyTls} is false, as boto3 ignores it
 * @param assumeRole    extra AssumeRole parameters ({@code RoleSessionName}, {@code DurationSeconds}, {@code ExternalId})
 */
record AwsSettings(
        String accessKeyId,
        String secretAccessKey,
        String sessionToken,
        String profileName,
        String region,
        String endpointUrl,
        boolean verifyTls,
        String caBundle,
        String assumeRoleArn,
        Map<String, String> assumeRole) {

    static final AwsSettings DEFAULTS = new AwsSettings(null, null, null, null, null, null, true, null, null, Map.of());

    AwsSettings {
        assumeRole = Map.copyOf(assumeRole);
    }

    static AwsSettings from(JsonNode block) throws LaunchException {
        if (block == null || block.isNull() || (block.isObject() && block.isEmpty())) {
            return DEFAULTS;
        }
        if (!block.isObject()) {
            throw new LaunchException("invalid job configuration 'aws_credentials': expected an aws-credentials block"
                    + " (an object), got a " + block.getNodeType().name().toLowerCase());
        }
        JsonNode client = block.path("aws_client_parameters");
        String key = text(block, "aws_access_key_id");
        String secret = text(block, "aws_secret_access_key");
        if ((key == null) != (secret == null)) {
            throw new LaunchException("invalid job configuration 'aws_credentials': aws_access_key_id and "
                    + "aws_secret_access_key must be given together");
        }
        Map<String, String> kwargs = new LinkedHashMap<>();
        block.path("assume_role_kwargs").properties().forEach(e -> kwargs.put(e.getKey(), e.getValue().asText()));
        JsonNode verify = client.path("verify");
        boolean verifyTls = !(verify.isBoolean() && !verify.asBoolean());
        // prefect-aws: verify_cert_path wins over a path in verify (deprecated), and verify=false ignores both
        String caBundle = text(client, "aws_client_parameters.verify_cert_path");
        if (caBundle == null && verify.isTextual() && !verify.asText().isBlank()) {
            caBundle = verify.asText();
        } else if (!verify.isMissingNode() && !verify.isNull() && !verify.isBoolean() && !verify.isTextual()) {
            throw new LaunchException("invalid job configuration 'aws_credentials.aws_client_parameters.verify': "
                    + "expected true, false or the path of a CA bundle");
        }
        return new AwsSettings(key, secret, text(block, "aws_session_token"), text(block, "profile_name"),
                text(block, "region_name"), text(client, "aws_client_parameters.endpoint_url"), verifyTls, verifyTls ? caBundle : null,
                text(block, "assume_role_arn"), kwargs);
    }

    /** @param path the key's path under {@code aws_credentials}; its last part is the key in {@code node} */
    private static String text(JsonNode node, String path) throws LaunchException {
        JsonNode v = node.get(path.substring(path.lastIndexOf('.') + 1));
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isBlank())) {
            return null;
        }
        if (!v.isTextual()) {
            // never echo the value: it may be a secret
            throw new LaunchException("invalid job configuration 'aws_credentials." + path + "': expected a string");
        }
        return v.asText();
    }

    @Override
    public String toString() {
        return "AwsSettings[accessKeyId=" + accessKeyId + ", secretAccessKey=" + (secretAccessKey == null ? null : "***")
                + ", sessionToken=" + (sessionToken == null ? null : "***") + ", profileName=" + profileName
                + ", region=" + region + ", endpointUrl=" + endpointUrl + ", verifyTls=" + verifyTls + ", caBundle=" + caBundle
                + ", assumeRoleArn=" + assumeRoleArn + ", assumeRole=" + assumeRole.keySet() + "]";
    }
}
