package io.pworker.ecs;

import static io.pworker.ecs.EcsTestSupport.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.spi.Phase;
import io.pworker.testkit.PrefectTemplates;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import software.amazon.awssdk.services.ecs.model.Container;
import software.amazon.awssdk.services.ecs.model.Task;

/** The ecs type's rules that need no AWS: template shape, validation, task definition, RunTask request, phases. */
class EcsJobConfigurationTest {

    private static final FlowRunInfo RUN = EcsTestSupport.run("d0000000-0000-0000-0000-0000000000d1");

    private static ObjectNode config(Map<String, ?> variables) {
        return EcsTestSupport.configuration(RUN, variables);
    }

    private static EcsJobConfiguration parse(Map<String, ?> variables) throws LaunchException {
        return EcsJobConfiguration.from(config(variables));
    }

    private static ObjectNode taskDefinition(Map<String, ?> variables) throws LaunchException {
        return TaskDefinitions.build(parse(variables), RUN, "eu-west-1", "prefecthq/prefect:3.4.25-python3.12");
    }

    private static ObjectNode runRequest(EcsJobConfiguration c, JsonNode td, boolean registered) throws LaunchException {
        return RunTaskRequests.build(c, td, "arn:aws:ecs:eu-west-1:1:task-definition/f:1", null, registered);
    }

    private static Map<String, Object> vars(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void defaultTemplateHasTheShapeOfPrefectsEcsTemplate() {
        ObjectNode ours = new EcsPlugin().defaultBaseJobTemplate();
        assertThat(PrefectTemplates.structuralDifferences(ours, PrefectTemplates.prefectDefault("ecs"))).isEmpty();
        assertThat(ours.at("/variables/properties/cluster/description").asText())
                .isNotEqualTo(PrefectTemplates.prefectDefault("ecs").at("/variables/properties/cluster/description").asText());
        assertThat(new EcsPlugin().type()).isEqualTo("ecs");
        assertThat(java.util.ServiceLoader.load(io.pworker.spi.InfrastructurePlugin.class).stream()
                .map(java.util.ServiceLoader.Provider::type)).contains(EcsPlugin.class);
        assertThat(new EcsPlugin().workerClassName()).isEqualTo("ECSWorker");
    }

    // ---- validation: every error names what to fix ----

    @Test
    void aTaskDefinitionOrAnArnIsNeeded() {
        ObjectNode c = config(Map.of());
        c.putNull("task_definition");
        assertThatThrownBy(() -> EcsJobConfiguration.from(c)).isInstanceOf(LaunchException.class)
                .hasMessageContaining("neither 'task_definition' nor a task definition ARN");
        ObjectNode withArn = config(Map.of("task_definition_arn", "arn:aws:ecs:eu-west-1:1:task-definition/x:3"));
        withArn.putNull("task_definition");
        org.assertj.core.api.Assertions.assertThatCode(() -> EcsJobConfiguration.from(withArn)).doesNotThrowAnyException();
    }

    @Test
    void cloudwatchLogsNeedAnExecutionRole() {
        assertThatThrownBy(() -> parse(Map.of("configure_cloudwatch_logs", true)))
                .hasMessage("invalid job configuration 'configure_cloudwatch_logs': CloudWatch logs need an execution "
                        + "role; set 'execution_role_arn'");
    }

    @Test
    void cloudwatchOptionsNeedCloudwatchLogs() {
        assertThatThrownBy(() -> parse(Map.of("cloudwatch_logs_options", Map.of("mode", "non-blocking"))))
                .hasMessageContaining("'cloudwatch_logs_options': only used with 'configure_cloudwatch_logs' enabled");
    }

    @Test
    void aCustomNetworkConfigurationNeedsItsVpc() {
        assertThatThrownBy(() -> parse(Map.of("network_configuration", Map.of("subnets", List.of("subnet-1")))))
                .hasMessageContaining("'network_configuration': a custom network configuration needs 'vpc_id'");
    }

    @Test
    void anUnknownLaunchTypeIsRefused() {
        assertThatThrownBy(() -> parse(Map.of("launch_type", "LAMBDA")))
                .hasMessageContaining("'launch_type': 'LAMBDA' is not one of [FARGATE, EC2, EXTERNAL, FARGATE_SPOT]");
    }

    @Test
    void malformedValuesNameTheirKey() {
        assertThatThrownBy(() -> parse(Map.of("command", "sh -c 'unbalanced")))
                .hasMessageContaining("invalid job configuration 'command': unbalanced single quote");
        assertThatThrownBy(() -> taskDefinition(Map.of("cpu", "lots")))
                .hasMessageContaining("invalid job configuration 'cpu': expected a whole number");
        assertThatThrownBy(() -> parse(Map.of("aws_credentials", Map.of("aws_access_key_id", "AKID"))))
                .hasMessageContaining("aws_access_key_id and aws_secret_access_key must be given together");
        assertThatThrownBy(() -> parse(Map.of("task_start_timeout_seconds", "soon")))
                .hasMessage("invalid job configuration 'task_start_timeout_seconds': expected a number of seconds (0 "
                        + "for no limit), got \"soon\"");
        assertThatThrownBy(() -> parse(Map.of("aws_credentials", "my-block")))
                .hasMessageContaining("'aws_credentials': expected an aws-credentials block");
        ObjectNode c = config(Map.of());
        ((ObjectNode) c.get("task_definition")).put("containerDefinitions", "prefect");
        assertThatThrownBy(() -> TaskDefinitions.build(EcsJobConfiguration.from(c), RUN, "eu-west-1", "i"))
                .hasMessageContaining("'task_definition.containerDefinitions': expected a list");
    }

    @Test
    void aDefinitionWithoutEssentialContainerOrUnfitForFargateIsRefused() throws Exception {
        assertThatThrownBy(() -> TaskDefinitions.validate(JSON.readTree(
                "{\"containerDefinitions\": [{\"name\": \"a\", \"essential\": false}]}"), "EC2"))
                .hasMessageContaining("no essential container");
        assertThatThrownBy(() -> TaskDefinitions.validate(JSON.readTree(
                "{\"containerDefinitions\": [{\"name\": \"a\"}], \"requiresCompatibilities\": [\"EC2\"]}"), "FARGATE"))
                .hasMessageContaining("not compatible with FARGATE");
        assertThatThrownBy(() -> TaskDefinitions.validate(JSON.readTree(
                "{\"containerDefinitions\": [{\"name\": \"a\"}], \"compatibilities\": [\"EC2\", \"FARGATE\"], "
                        + "\"networkMode\": \"bridge\"}"), "FARGATE_SPOT"))
                .hasMessageContaining("network mode 'bridge', which FARGATE does not support");
    }

    // ---- the task definition ----

    @Test
    void aFargateDefinitionHasTaskLevelCpuAndMemoryAndAwsvpc() throws Exception {
        ObjectNode td = taskDefinition(Map.of());
        assertThat(td).isEqualTo(JSON.readTree("""
                {"containerDefinitions": [{"image": "prefecthq/prefect:3.4.25-python3.12", "name": "prefect"}],
                 "cpu": "1024", "memory": "2048", "family": "prefect_ecs-pool_d0000000-0000-0000-0000-0000000000d1",
                 "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}"""));
    }

    @Test
    void anEc2DefinitionHasContainerLevelCpuAndMemory() throws Exception {
        ObjectNode td = taskDefinition(Map.of("launch_type", "EC2", "cpu", 512, "image", "repo/flows:1",
                "container_name", "flow", "family", "mine"));
        assertThat(td).isEqualTo(JSON.readTree("""
                {"containerDefinitions": [{"image": "repo/flows:1", "name": "flow", "cpu": 512, "memory": 2048}],
                 "cpu": "512", "family": "mine"}"""));
    }

    @Test
    void containersEnvironmentLogsAndSecretsFollowTheConfiguration() throws Exception {
        ObjectNode c = config(vars("configure_cloudwatch_logs", true, "execution_role_arn", "arn:aws:iam::1:role/exec",
                "cloudwatch_logs_options", Map.of("mode", "non-blocking")));
        c.put("prefect_api_key_secret_arn", "arn:aws:secretsmanager:eu-west-1:1:secret:key");
        ((ObjectNode) c.get("env")).putNull("DROPPED");
        c.set("task_definition", JSON.readTree("""
                {"containerDefinitions": [
                   {"name": "sidecar", "image": "envoy"},
                   {"image": null, "environment": [{"name": "DROPPED", "value": "x"}, {"name": "KEPT", "value": "y"},
                     {"name": "NULL", "value": null}], "secrets": [{"name": "PREFECT_API_KEY", "valueFrom": "old"}]}],
                 "executionRoleArn": "arn:aws:iam::1:role/exec"}"""));
        ObjectNode td = TaskDefinitions.build(EcsJobConfiguration.from(c), RUN, "eu-west-1", "default/image");
        // neither is named prefect: the first named container runs the flow
        assertThat(td.at("/containerDefinitions/0/logConfiguration/options")).isEqualTo(JSON.readTree("""
                {"awslogs-create-group": "true", "awslogs-group": "prefect", "awslogs-region": "eu-west-1",
                 "awslogs-stream-prefix": "prefect-logs_ecs pool_d0000000-0000-0000-0000-0000000000d1",
                 "mode": "non-blocking"}"""));
        ObjectNode named = (ObjectNode) taskDefinitionWith(c, "prefect");
        assertThat(named.at("/containerDefinitions/1/name").asText()).isEqualTo("prefect");
        assertThat(named.at("/containerDefinitions/1/image").asText()).isEqualTo("default/image");
        assertThat(named.at("/containerDefinitions/1/environment")).isEqualTo(JSON.readTree("[{\"name\": \"KEPT\", \"value\": \"y\"}]"));
        assertThat(named.at("/containerDefinitions/1/secrets")).isEqualTo(JSON.readTree(
                "[{\"name\": \"PREFECT_API_KEY\", \"valueFrom\": \"arn:aws:secretsmanager:eu-west-1:1:secret:key\"}]"));
    }

    private static JsonNode taskDefinitionWith(ObjectNode c, String containerName) throws LaunchException {
        ObjectNode copy = c.deepCopy().put("container_name", containerName);
        return TaskDefinitions.build(EcsJobConfiguration.from(copy), RUN, "eu-west-1", "default/image");
    }

    @Test
    void normalisationIgnoresOrderDefaultsAndRegistrationFields() throws Exception {
        JsonNode built = JSON.readTree("""
                {"family": "f", "containerDefinitions": [{"name": "prefect", "image": "i",
                  "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}]}""");
        JsonNode described = JSON.readTree("""
                {"family": "f", "taskDefinitionArn": "arn", "revision": 7, "status": "ACTIVE", "networkMode": "bridge",
                 "compatibilities": ["EC2"], "registeredBy": "me", "volumes": [], "placementConstraints": [],
                 "containerDefinitions": [{"name": "prefect", "image": "i", "essential": true, "portMappings": [],
                  "mountPoints": [], "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}""");
        assertThat(TaskDefinitions.normalise(built)).isEqualTo(TaskDefinitions.normalise(described));
        ((ObjectNode) described.at("/containerDefinitions/0")).put("image", "j");
        assertThat(TaskDefinitions.normalise(built)).isNotEqualTo(TaskDefinitions.normalise(described));
    }

    // ---- the RunTask request ----

    @Test
    void aFargateRequestCarriesCommandEnvironmentOverridesAndSlugifiedTags() throws Exception {
        EcsJobConfiguration c = parse(vars("cpu", 2048, "memory", 4096, "cluster", "prod",
                "task_role_arn", "arn:aws:iam::1:role/task", "command", "prefect flow-run execute --flag 'a b'",
                "env", Map.of("EXTRA", "1"), "labels", Map.of("team name", "data & ml", "ok", "x")));
        ObjectNode r = runRequest(c, taskDefinition(Map.of()), false);
        assertThat(r.path("launchType").asText()).isEqualTo("FARGATE");
        assertThat(r.path("cluster").asText()).isEqualTo("prod");
        assertThat(r.path("taskDefinition").asText()).isEqualTo("arn:aws:ecs:eu-west-1:1:task-definition/f:1");
        JsonNode override = r.at("/overrides/containerOverrides/0");
        assertThat(override.path("name").asText()).isEqualTo("prefect");
        assertThat(override.path("command")).isEqualTo(JSON.readTree("[\"prefect\", \"flow-run\", \"execute\", \"--flag\", \"a b\"]"));
        assertThat(override.path("environment")).contains(JSON.readTree("{\"name\": \"EXTRA\", \"value\": \"1\"}"),
                JSON.readTree("{\"name\": \"PREFECT__FLOW_RUN_ID\", \"value\": \"" + RUN.id() + "\"}"));
        assertThat(override.path("cpu").asInt()).isEqualTo(2048);
        assertThat(r.at("/overrides/cpu").asText()).isEqualTo("2048");
        assertThat(r.at("/overrides/memory").isTextual()).isTrue();
        assertThat(r.at("/overrides/taskRoleArn").asText()).isEqualTo("arn:aws:iam::1:role/task");
        assertThat(r.path("tags")).contains(JSON.readTree("{\"key\": \"team-name\", \"value\": \"data-ml\"}"),
                JSON.readTree("{\"key\": \"prefect.io/flow-run-id\", \"value\": \"" + RUN.id() + "\"}"),
                JSON.readTree("{\"key\": \"prefect.io/worker-name\", \"value\": \"ECSWorker-test\"}"));
        assertThat(r.toString()).doesNotContain(RunTaskRequests.DEREGISTER_TAG);
        assertThat(r.has("capacityProviderStrategy")).isFalse();
    }

    @Test
    void capacityProvidersReplaceTheLaunchType() throws Exception {
        ObjectNode spot = runRequest(parse(Map.of("launch_type", "FARGATE_SPOT")), taskDefinition(Map.of()), false);
        assertThat(spot.has("launchType")).isFalse();
        assertThat(spot.path("capacityProviderStrategy")).isEqualTo(JSON.readTree(
                "[{\"capacityProvider\": \"FARGATE_SPOT\", \"weight\": 1}]"));
        EcsJobConfiguration custom = parse(Map.of("capacity_provider_strategy",
                List.of(Map.of("capacityProvider", "mine", "weight", 2, "base", 1))));
        ObjectNode r = runRequest(custom, taskDefinition(Map.of()), false);
        assertThat(r.has("launchType")).isFalse();
        assertThat(r.path("capacityProviderStrategy").get(0).path("capacityProvider").asText()).isEqualTo("mine");
    }

    @Test
    void anEc2OnlyDefinitionGetsNoLaunchTypeWhenNoneIsAsked() throws Exception {
        EcsJobConfiguration c = parse(Map.of());
        ((ObjectNode) c.taskRunRequest()).remove("launchType");
        JsonNode ec2Only = JSON.readTree("{\"containerDefinitions\": [{\"name\": \"prefect\"}], "
                + "\"requiresCompatibilities\": [\"EC2\"]}");
        assertThat(runRequest(c, ec2Only, false).has("launchType")).isFalse();
        assertThat(runRequest(c, taskDefinition(Map.of()), false).path("launchType").asText()).isEqualTo("FARGATE");
    }

    @Test
    void theMisspeltDeregistrationTagMarksOnlyDefinitionsRegisteredForTheRun() throws Exception {
        EcsJobConfiguration c = parse(Map.of("auto_deregister_task_definition", true));
        assertThat(runRequest(c, taskDefinition(Map.of()), true).path("tags")).contains(JSON.readTree(
                "{\"key\": \"prefect.io/degregister-task-definition\", \"value\": \"true\"}"));
        assertThat(runRequest(c, taskDefinition(Map.of()), false).toString()).doesNotContain("degregister");
    }

    @Test
    void theApiKeyLeavesTheEnvironmentOnlyWhenASecretReplacesIt() throws Exception {
        ObjectNode withKey = config(Map.of("env", Map.of("PREFECT_API_KEY", "pnu_secret")));
        withKey.put("prefect_api_key_secret_arn", "arn:aws:secretsmanager:eu-west-1:1:secret:key");
        ObjectNode r = runRequest(EcsJobConfiguration.from(withKey), taskDefinition(Map.of()), false);
        assertThat(r.toString()).doesNotContain("pnu_secret").doesNotContain("PREFECT_API_KEY");
        ObjectNode selfHosted = config(Map.of());
        selfHosted.put("prefect_api_key_secret_arn", "arn:aws:secretsmanager:eu-west-1:1:secret:key");
        org.assertj.core.api.Assertions.assertThatCode(() -> runRequest(EcsJobConfiguration.from(selfHosted),
                taskDefinition(Map.of()), false)).doesNotThrowAnyException();
    }

    @ParameterizedTest(name = "tag ''{0}'' becomes ''{1}''")
    @CsvSource(delimiter = '|', value = {
            "prefect.io/flow-run-id|prefect.io/flow-run-id",
            "team name|team-name",
            "  spaced  out  |spaced-out",
            "a&&b|a-b",
            "1,000 rows|1000-rows",
            "Ünïcode Keeps Case|Ünïcode-Keeps-Case",
            "user@example.com:+=|user@example.com:+="})
    void tagsAreSlugifiedAsPrefectDoes(String in, String out) {
        assertThat(Values.tagSlug(in)).isEqualTo(out);
    }

    // ---- phases ----

    private static Task task(String status, String stopCode, String reason, Container... containers) {
        return Task.builder().taskArn("arn:t").lastStatus(status).stopCode(stopCode).stoppedReason(reason)
                .containers(containers).build();
    }

    @Test
    void ecsStatusesBecomePhases() {
        assertThat(TaskPhases.of(task("PROVISIONING", null, null), "prefect")).isEqualTo(new Phase.Pending("ECS task is PROVISIONING"));
        assertThat(TaskPhases.of(task("PENDING", null, null), "prefect")).isEqualTo(new Phase.Pending("ECS task is PENDING"));
        assertThat(TaskPhases.of(task("RUNNING", null, null), "prefect")).isEqualTo(new Phase.Running());
        assertThat(TaskPhases.of(task("DEACTIVATING", null, null), "prefect")).isEqualTo(new Phase.Running());
        assertThat(TaskPhases.of(task("STOPPED", "EssentialContainerExited", "Essential container in task exited",
                Container.builder().name("prefect").exitCode(0).build(),
                Container.builder().name("sidecar").exitCode(137).build()), "prefect")).isEqualTo(Phase.Exited.of(0));
    }

    @Test
    void aStoppedTaskCarriesItsStopCodeAndReason() {
        Phase p = TaskPhases.of(task("STOPPED", "EssentialContainerExited", "Essential container in task exited",
                Container.builder().name("app").exitCode(0).build(),
                Container.builder().name("log-router").exitCode(2).reason("OutOfMemoryError: Container killed").build()),
                "prefect");
        assertThat(p).isEqualTo(new Phase.Exited(new ExitStatus(2, "ECS container(s) [log-router] stopped with exit "
                + "code 2 (stopCode EssentialContainerExited: Essential container in task exited); container "
                + "log-router: OutOfMemoryError: Container killed")));
        Phase failed = TaskPhases.of(task("STOPPED", "TaskFailedToStart", "CannotPullContainerError: no such image",
                Container.builder().name("prefect").build()), "prefect");
        assertThat(failed).isEqualTo(new Phase.Gone("ECS task failed to start: CannotPullContainerError: no such image"));
        Phase noExit = TaskPhases.of(task("STOPPED", "SpotInterruption", "Your Spot Task was interrupted.",
                Container.builder().name("prefect").build()), "prefect");
        assertThat(noExit).isEqualTo(new Phase.Gone("ECS task stopped before its container reported an exit code "
                + "(stopCode SpotInterruption: Your Spot Task was interrupted.)"));
    }

    @Test
    void printedSettingsAndConfigurationsHideSecrets() throws Exception {
        ObjectNode creds = EcsTestSupport.credentials("http://127.0.0.1:1").put("aws_session_token", "tok-SECRET");
        EcsJobConfiguration c = parse(Map.of("aws_credentials", creds, "env", Map.of("PREFECT_API_KEY", "pnu_SECRET")));
        assertThat(c.toString()).contains(EcsTestSupport.ACCESS_KEY).doesNotContain(EcsTestSupport.SECRET_KEY)
                .doesNotContain("tok-SECRET").doesNotContain("pnu_SECRET");
    }
}
