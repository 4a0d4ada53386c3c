package io.pworker.ecs;

import static io.pworker.spi.JobConfigurationFields.bool;
import static io.pworker.spi.JobConfigurationFields.stringMap;
import static io.pworker.spi.JobConfigurationFields.strings;
import static io.pworker.spi.JobConfigurationFields.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.spi.ShellWords;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The ecs type's job configuration, checked before anything is sent to AWS: a value of the wrong shape, or a
 * combination ECS would refuse later, is an error that names the key.
 *
 * @param command        the flow-run command, split into words; null to keep the container override's
 * @param unsetEnv       env names whose value is null: removed from the task definition's container too
 * @param taskDefinition the task definition to register (a private copy; empty values not dropped yet)
 * @param taskRunRequest the RunTask request as the template made it (a private copy)
 * @param cluster        the cluster name or ARN, or null for the account's default cluster
 */
record EcsJobConfiguration(
        List<String> command,
        Map<String, String> env,
        Set<String> unsetEnv,
        Map<String, String> labels,
        String name,
        AwsSettings credentials,
        ObjectNode taskDefinition,
        ObjectNode taskRunRequest,
        String cluster,
        String containerName,
        String vpcId,
        ObjectNode networkConfiguration,
        boolean configureCloudwatchLogs,
        Map<String, String> cloudwatchLogsOptions,
        String cloudwatchLogsPrefix,
        boolean autoDeregisterTaskDefinition,
        boolean matchLatestRevisionInFamily,
        String apiKeySecretArn,
        String authStringSecretArn) {

    static final List<String> LAUNCH_TYPES = List.of("FARGATE", "EC2", "EXTERNAL", "FARGATE_SPOT");
    static final List<String> DEFAULT_COMMAND = List.of("prefect", "flow-run", "execute");

    static EcsJobConfiguration from(ObjectNode c) throws LaunchException {
        ObjectNode taskDefinition = object(c, "task_definition");
        ObjectNode runRequest = object(c, "task_run_request");
        ObjectNode network = object(c, "network_configuration");
        boolean cloudwatch = bool(c, "configure_cloudwatch_logs", false);
        Map<String, String> logOptions = stringMap(c, "cloudwatch_logs_options");
        String vpcId = blankToNull(text(c, "vpc_id"));

        String arn = runRequest.path("taskDefinition").asText("");
        // the template's task_definition counts even when every variable in it is unset: the worker fills it in
        if (arn.isBlank() && taskDefinition.isEmpty()) {
            throw new LaunchException("invalid job configuration: neither 'task_definition' nor a task definition ARN "
                    + "('task_definition_arn', task_run_request.taskDefinition) is given");
        }
        if (cloudwatch && arn.isBlank() && taskDefinition.path("executionRoleArn").asText("").isBlank()) {
            throw new LaunchException("invalid job configuration 'configure_cloudwatch_logs': CloudWatch logs need an "
                    + "execution role; set 'execution_role_arn'");
        }
        if (!logOptions.isEmpty() && !cloudwatch) {
            throw new LaunchException("invalid job configuration 'cloudwatch_logs_options': only used with "
                    + "'configure_cloudwatch_logs' enabled");
        }
        if (!Values.dropEmpty(network).isEmpty() && vpcId == null) {
            throw new LaunchException("invalid job configuration 'network_configuration': a custom network "
                    + "configuration needs 'vpc_id', the VPC its subnets belong to");
        }
        JsonNode timeout = c.get("task_start_timeout_seconds");
        if (timeout != null && !timeout.isNull() && !(timeout.isNumber() && timeout.asDouble() >= 0)) {
            throw new LaunchException("invalid job configuration 'task_start_timeout_seconds': expected a number of "
                    + "seconds (0 for no limit), got " + timeout);
        }
        JsonNode launchType = runRequest.get("launchType");
        if (launchType != null && !launchType.isNull() && !LAUNCH_TYPES.contains(launchType.asText())) {
            throw new LaunchException("invalid job configuration 'launch_type': '" + launchType.asText()
                    + "' is not one of " + LAUNCH_TYPES);
        }
        Set<String> unset = new LinkedHashSet<>();
        c.path("env").properties().forEach(e -> {
            if (e.getValue().isNull()) {
                unset.add(e.getKey());
            }
        });
        return new EcsJobConfiguration(
                command(c),
                stringMap(c, "env"),
                Set.copyOf(unset),
                stringMap(c, "labels"),
                text(c, "name"),
                AwsSettings.from(c.get("aws_credentials")),
                taskDefinition,
                runRequest,
                blankToNull(text(c, "cluster")),
                blankToNull(text(c, "container_name")),
                vpcId,
                network,
                cloudwatch,
                logOptions,
                blankToNull(text(c, "cloudwatch_logs_prefix")),
                bool(c, "auto_deregister_task_definition", false),
                bool(c, "match_latest_revision_in_family", false),
                blankToNull(text(c, "prefect_api_key_secret_arn")),
                blankToNull(text(c, "prefect_api_auth_string_secret_arn")));
    }

    /** The cluster to name in calls: the configured one, else the one in the run request, else the default. */
    String effectiveCluster() {
        if (cluster != null) {
            return cluster;
        }
        String fromRequest = taskRunRequest.path("cluster").asText("");
        return fromRequest.isBlank() ? null : fromRequest;
    }

    /**
     * The cluster a configuration names, read as {@link #effectiveCluster} reads it but without the rest of the
     * configuration: the pool's defaults, which discover gets, need not be a launchable configuration.
     */
    static String clusterOf(ObjectNode c) throws LaunchException {
        String named = blankToNull(text(c, "cluster"));
        if (named != null) {
            return named;
        }
        String fromRequest = c.path("task_run_request").path("cluster").asText("");
        return fromRequest.isBlank() ? null : fromRequest;
    }

    /** Names only for env and labels: env values may be API keys. */
    @Override
    public String toString() {
        return "EcsJobConfiguration[cluster=" + cluster + ", containerName=" + containerName + ", env=" + env.keySet()
                + ", credentials=" + credentials + "]";
    }

    private static List<String> command(ObjectNode c) throws LaunchException {
        JsonNode cmd = c.get("command");
        if (cmd == null || cmd.isNull() || (cmd.isTextual() && cmd.asText().isBlank())) {
            return null;
        }
        if (cmd.isTextual()) {
            try {
                return ShellWords.split(cmd.asText());
            } catch (IllegalArgumentException e) {
                throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
            }
        }
        if (cmd.isArray()) {
            return strings(c, "command");
        }
        throw new LaunchException("invalid job configuration 'command': expected a string or a list, got " + cmd);
    }

    private static ObjectNode object(ObjectNode c, String key) throws LaunchException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isBlank())) {
            return JsonNodeFactory.instance.objectNode();
        }
        if (!v.isObject()) {
            throw new LaunchException("invalid job configuration '" + key + "': expected an object, got "
                    + v.getNodeType().name().toLowerCase());
        }
        return v.deepCopy();
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
