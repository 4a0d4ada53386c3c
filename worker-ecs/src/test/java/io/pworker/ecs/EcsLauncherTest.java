package io.pworker.ecs;

import static io.pworker.ecs.EcsTestSupport.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Subnet;
import software.amazon.awssdk.services.ecs.EcsClient;
import software.amazon.awssdk.services.ecs.model.AwsVpcConfiguration;
import software.amazon.awssdk.services.ecs.model.LaunchType;
import software.amazon.awssdk.services.ecs.model.NetworkMode;

/**
 * The launcher against moto: what reaches ECS and EC2, task-definition reuse, clusters, kills and polling. Tests
 * whose task must exit, stop or fail to start run through {@link MotoWithLocalAgent} (named in the test); the
 * others see moto's own task states.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class EcsLauncherTest {

    private static final String CLUSTER = "pworker-tests";
    private static final String EC2_CLUSTER = "pworker-ec2";
    private static MotoWithLocalAgent aws;
    private static EcsClient admin;
    private static Ec2Client ec2;

    private EcsLauncher launcher;
    private final EcsTestSupport.KeptLog log = new EcsTestSupport.KeptLog();
    private final List<RunHandle> started = new ArrayList<>();

    @BeforeAll
    static void startAws() throws Exception {
        aws = new MotoWithLocalAgent(MotoServer.get());
        admin = EcsTestSupport.ecs(aws);
        ec2 = EcsTestSupport.ec2(aws);
        admin.createCluster(b -> b.clusterName(CLUSTER));
        admin.createCluster(b -> b.clusterName("default"));
        admin.createCluster(b -> b.clusterName(EC2_CLUSTER));
        // EC2 tasks need a container instance, which moto makes from an EC2 instance (any AMI id will do)
        String instance = ec2.runInstances(b -> b.imageId("ami-12345678").minCount(1).maxCount(1)).instances()
                .getFirst().instanceId();
        admin.registerContainerInstance(b -> b.cluster(EC2_CLUSTER)
                .instanceIdentityDocument("{\"instanceId\": \"" + instance + "\"}"));
    }

    @AfterAll
    static void stopAws() {
        if (admin != null) {
            admin.close();
            ec2.close();
        }
        if (aws != null) {
            aws.close();
        }
    }

    @BeforeEach
    void newLauncher() throws Exception {
        aws.runCommandsLocally = false;
        aws.forgetCalls();
        launcher = EcsLauncher.create(EcsTestSupport.context(Map.of("PWORKER_ECS_POLL_SECONDS", "0.2")));
    }

    @AfterEach
    void closeLauncher() {
        for (RunHandle h : started) {
            try {
                EcsPid pid = EcsPid.of(h);
                admin.stopTask(b -> b.cluster(pid.cluster()).task(pid.taskArn()));
            } catch (Exception ignored) {
                // stopped already
            }
        }
        if (launcher != null) {
            launcher.close();
        }
    }

    /** A configuration against moto; moto needs a container-level memory, which real ECS does not for FARGATE. */
    private static ObjectNode config(FlowRunInfo run, Map<String, ?> variables) {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("aws_credentials", EcsTestSupport.credentials(aws.endpoint.toString()));
        all.put("cluster", CLUSTER);
        all.put("image", "busybox:1");
        all.putAll(variables);
        ObjectNode c = EcsTestSupport.configuration(run, all);
        ((ObjectNode) c.at("/task_definition/containerDefinitions/0")).put("memory", 128).put("stopTimeout", 2);
        return c;
    }

    private RunHandle launch(FlowRunInfo run, ObjectNode configuration) throws Exception {
        RunHandle h = launcher.launch(new LaunchRequest(run, configuration, log));
        started.add(h);
        return h;
    }

    private RunHandle launch(Map<String, ?> variables) throws Exception {
        FlowRunInfo run = EcsTestSupport.run("d1111111-0000-0000-0000-000000000001");
        return launch(run, config(run, variables));
    }

    /** What the watches of a test sent as the task's own output (the core forwards it only for runs never started). */
    private final List<String> failureLines = new java.util.concurrent.CopyOnWriteArrayList<>();

    private Phase awaitTerminal(RunHandle h, ObjectNode configuration) throws Exception {
        return awaitTerminal(h, configuration, new ArrayList<>());
    }

    /** The terminal phase; {@code lines} gets what the watch logged to the run before it. */
    private Phase awaitTerminal(RunHandle h, ObjectNode configuration, List<String> lines) throws Exception {
        return awaitTerminal(h, configuration, lines, new ArrayList<>());
    }

    /** The terminal phase; {@code lines} and {@code events} get what the watch sent before it. */
    private Phase awaitTerminal(RunHandle h, ObjectNode configuration, List<String> lines,
            List<InfrastructureEvent> events) throws Exception {
        io.pworker.testkit.RecordingSink sink = new io.pworker.testkit.RecordingSink();
        try (var w = launcher.watch(h, configuration, sink)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                Phase p = sink.phases().poll(200, TimeUnit.MILLISECONDS);
                if (p != null && p.terminal()) {
                    List<Object> seen = List.copyOf(sink.seen());
                    List<Object> before = seen.subList(0, seen.indexOf(p));
                    before.stream().filter(String.class::isInstance).map(String.class::cast).forEach(lines::add);
                    before.stream().filter(InfrastructureEvent.class::isInstance).map(InfrastructureEvent.class::cast)
                            .forEach(events::add);
                    failureLines.addAll(sink.failureLines());
                    return p;
                }
            }
        }
        throw new AssertionError("no terminal phase for " + h);
    }

    private static JsonNode last(String operation) {
        List<JsonNode> calls = aws.requests(operation);
        assertThat(calls).as(operation + " calls").isNotEmpty();
        return calls.getLast();
    }

    @Test
    void aFargateTaskRunsInTheDefaultVpcsSubnetsAndGetsPrefectsPid() throws Exception {
        FlowRunInfo run = EcsTestSupport.run(null);
        RunHandle h = launch(run, config(run, Map.of()));
        JsonNode request = last("RunTask");
        String defaultVpc = ec2.describeVpcs(b -> b.filters(f -> f.name("isDefault").values("true"))).vpcs().getFirst().vpcId();
        List<String> subnets = ec2.describeSubnets(b -> b.filters(f -> f.name("vpc-id").values(defaultVpc))).subnets()
                .stream().map(Subnet::subnetId).toList();
        assertThat(request.at("/networkConfiguration/awsvpcConfiguration/subnets")).hasSize(subnets.size());
        subnets.forEach(s -> assertThat(request.at("/networkConfiguration/awsvpcConfiguration/subnets").toString()).contains(s));
        assertThat(request.at("/networkConfiguration/awsvpcConfiguration/assignPublicIp").asText()).isEqualTo("ENABLED");
        assertThat(request.path("launchType").asText()).isEqualTo("FARGATE");
        assertThat(request.path("startedBy").asText()).isEqualTo("pworker-" + run.id());
        assertThat(request.path("clientToken").asText()).isNotBlank();
        assertThat(request.path("tags").toString()).contains("{\"key\":\"prefect.io/flow-run-id\",\"value\":\"" + run.id() + "\"}");
        assertThat(h.infrastructurePid()).matches(CLUSTER + "::arn:aws:ecs:us-east-1:\\d+:task/" + CLUSTER + "/[0-9a-f-]+");
        JsonNode registered = last("RegisterTaskDefinition");
        assertThat(registered.path("family").asText()).isEqualTo("prefect_ecs-pool_" + run.flowId());
        assertThat(registered.path("requiresCompatibilities").toString()).isEqualTo("[\"FARGATE\"]");
        assertThat(log.lines).anyMatch(l -> l.startsWith("INFO Created ECS task arn:aws:ecs:"));
    }

    @Test
    void withoutAClusterTheDefaultClusterIsUsedAndThePidNamesItsArn() throws Exception {
        ObjectNode c = config(EcsTestSupport.run(null), Map.of());
        c.putNull("cluster");
        ((ObjectNode) c.get("task_run_request")).putNull("cluster");
        RunHandle h = launch(EcsTestSupport.run(null), c);
        assertThat(h.infrastructurePid()).startsWith("arn:aws:ecs:us-east-1:123456789012:cluster/default::arn:aws:ecs:");
        assertThat(last("RunTask").has("cluster")).isFalse();
    }

    @Test
    void aCustomNetworkConfigurationMustUseSubnetsOfItsVpc() throws Exception {
        String vpc = ec2.describeVpcs(b -> b.filters(f -> f.name("isDefault").values("true"))).vpcs().getFirst().vpcId();
        String subnet = ec2.describeSubnets(b -> b.filters(f -> f.name("vpc-id").values(vpc))).subnets().getFirst().subnetId();
        launch(Map.of("vpc_id", vpc, "network_configuration", Map.of("subnets", List.of(subnet),
                "securityGroups", List.of(), "assignPublicIp", "DISABLED")));
        assertThat(last("RunTask").at("/networkConfiguration/awsvpcConfiguration")).isEqualTo(JSON.readTree(
                "{\"subnets\": [\"" + subnet + "\"], \"securityGroups\": [], \"assignPublicIp\": \"DISABLED\"}"));
        assertThatThrownBy(() -> launch(Map.of("vpc_id", vpc, "network_configuration",
                Map.of("subnets", List.of("subnet-elsewhere")))))
                .hasMessage("invalid job configuration 'network_configuration': subnets [subnet-elsewhere] are not in "
                        + "VPC " + vpc);
        assertThatThrownBy(() -> launch(Map.of("vpc_id", "vpc-nothere")))
                .hasMessage("VPC vpc-nothere (from 'vpc_id') does not exist in this region");
    }

    @Test
    void ec2TasksGetContainerLevelResourcesAndFargateSpotACapacityProvider() throws Exception {
        launch(Map.of("cluster", EC2_CLUSTER, "launch_type", "EC2", "cpu", 256, "memory", 512));
        JsonNode registered = last("RegisterTaskDefinition");
        assertThat(registered.at("/containerDefinitions/0/cpu").asInt()).isEqualTo(256);
        assertThat(registered.at("/containerDefinitions/0/memory").asInt()).isEqualTo(128);
        assertThat(registered.has("networkMode")).isFalse();
        JsonNode request = last("RunTask");
        assertThat(request.path("launchType").asText()).isEqualTo("EC2");
        assertThat(request.has("networkConfiguration")).isFalse();
        assertThat(request.at("/overrides/cpu").asText()).isEqualTo("256");
        // moto ignores capacity providers and places the task on the cluster's instance
        launch(Map.of("cluster", EC2_CLUSTER, "launch_type", "FARGATE_SPOT"));
        JsonNode spot = last("RunTask");
        assertThat(spot.has("launchType")).isFalse();
        assertThat(spot.path("capacityProviderStrategy")).isEqualTo(JSON.readTree(
                "[{\"capacityProvider\": \"FARGATE_SPOT\", \"weight\": 1}]"));
    }

    @Test
    void taskDefinitionsAreReusedWhileEqualAndRegisteredWhenChanged() throws Exception {
        String deployment = "d2222222-0000-0000-0000-000000000002";
        FlowRunInfo first = EcsTestSupport.run(deployment);
        launch(first, config(first, Map.of()));
        FlowRunInfo second = EcsTestSupport.run(deployment);
        launch(second, config(second, Map.of()));
        assertThat(aws.count("RegisterTaskDefinition")).isEqualTo(1);
        assertThat(aws.requests("RunTask").get(0).path("taskDefinition"))
                .isEqualTo(aws.requests("RunTask").get(1).path("taskDefinition"));
        FlowRunInfo changed = EcsTestSupport.run(deployment);
        launch(changed, config(changed, Map.of("image", "busybox:2")));
        assertThat(aws.count("RegisterTaskDefinition")).isEqualTo(2);

        // a new worker has no cache; with match_latest_revision_in_family it finds the family's latest revision
        launcher.close();
        launcher = EcsLauncher.create(EcsTestSupport.context(Map.of()));
        FlowRunInfo afterRestart = EcsTestSupport.run(deployment);
        launch(afterRestart, config(afterRestart, Map.of("image", "busybox:2", "match_latest_revision_in_family", true)));
        assertThat(aws.count("RegisterTaskDefinition")).isEqualTo(2);
        FlowRunInfo noMatching = EcsTestSupport.run(deployment);
        launcher.close();
        launcher = EcsLauncher.create(EcsTestSupport.context(Map.of()));
        launch(noMatching, config(noMatching, Map.of("image", "busybox:2")));
        assertThat(aws.count("RegisterTaskDefinition")).isEqualTo(3);
    }

    @Test
    void aTaskDefinitionArnIsRunAsItIsWithAWarning() throws Exception {
        String arn = admin.registerTaskDefinition(b -> b.family("given").networkMode(NetworkMode.AWSVPC)
                .requiresCompatibilities(software.amazon.awssdk.services.ecs.model.Compatibility.FARGATE)
                .cpu("256").memory("512")
                .containerDefinitions(d -> d.name("prefect").image("repo/flows:7").memory(256)))
                .taskDefinition().taskDefinitionArn();
        aws.forgetCalls();
        launch(Map.of("task_definition_arn", arn));
        assertThat(aws.count("RegisterTaskDefinition")).isZero();
        assertThat(last("RunTask").path("taskDefinition").asText()).isEqualTo(arn);
        assertThat(log.lines).contains("WARN task_definition_arn is set, so the task definition settings of the job "
                + "configuration are ignored");
        String missing = arn.replace("given:", "given-nothere:");
        assertThatThrownBy(() -> launch(Map.of("task_definition_arn", missing)))
                .hasMessage("task definition '" + missing + "' (task_definition_arn) does not exist");
    }

    @Test
    void fieldsEcsDoesNotKnowAreNamed() throws Exception {
        FlowRunInfo run = EcsTestSupport.run(null);
        ObjectNode c = config(run, Map.of());
        ((ObjectNode) c.at("/task_definition/containerDefinitions/0")).put("imagee", "typo");
        assertThatThrownBy(() -> launch(run, c)).isInstanceOf(LaunchException.class)
                .hasMessage("invalid job configuration 'task_definition.containerDefinitions[0]': ECS has no field 'imagee'");
        ObjectNode wrongType = config(run, Map.of());
        ((ObjectNode) wrongType.get("task_run_request")).put("enableExecuteCommand", "sometimes");
        assertThatThrownBy(() -> launch(run, wrongType)).isInstanceOf(LaunchException.class)
                .hasMessageStartingWith("invalid job configuration 'task_run_request.enableExecuteCommand': a value has the wrong type");
    }

    @Test
    void aMissingClusterIsNamed() {
        assertThatThrownBy(() -> launch(Map.of("cluster", "nothere")))
                .hasMessage("ECS cluster 'nothere' does not exist in region us-east-1; create it or set 'cluster' to an "
                        + "existing one");
    }

    @Test
    void killOfAnUnknownTaskIsNotFoundAndOfAnotherRegionNotAvailable() throws Exception {
        ObjectNode c = config(EcsTestSupport.run(null), Map.of());
        RunHandle unknown = RunHandle.ofPid(CLUSTER + "::arn:aws:ecs:us-east-1:123456789012:task/" + CLUSTER
                + "/00000000000000000000000000000000");
        assertThat(launcher.kill(unknown, c, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_FOUND);
        RunHandle elsewhere = RunHandle.ofPid(CLUSTER + "::arn:aws:ecs:eu-west-3:123456789012:task/" + CLUSTER + "/abc");
        assertThat(launcher.kill(elsewhere, c, Duration.ofSeconds(1))).isEqualTo(KillOutcome.NOT_AVAILABLE);
        assertThat(launcher.recover(unknown, c)).isInstanceOf(Phase.Gone.class);
    }

    @Test
    void killStopsTheTaskWithPrefectsReason() throws Exception {
        FlowRunInfo run = EcsTestSupport.run(null);
        ObjectNode c = config(run, Map.of());
        RunHandle h = launch(run, c);
        assertThat(launcher.kill(h, c, Duration.ofSeconds(30))).isEqualTo(KillOutcome.KILLED);
        assertThat(last("StopTask").path("reason").asText()).isEqualTo("Stopped by Prefect worker");
        assertThat(last("StopTask").path("task").asText()).isEqualTo(EcsPid.of(h).taskArn());
    }

    @Test
    void aTaskThatExitsNonZeroReportsItsCodeAndStopCode_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        FlowRunInfo run = EcsTestSupport.run(null);
        ObjectNode c = config(run, Map.of("command", "sh -c 'exit 7'"));
        Phase end = awaitTerminal(launch(run, c), c);
        assertThat(end).isEqualTo(new Phase.Exited(new io.pworker.spi.ExitStatus(7, "ECS container(s) [prefect] stopped "
                + "with exit code 7 (stopCode EssentialContainerExited: Essential container in task exited)")));
    }

    @Test
    void statusChangesBecomePrefectsTaskEventsBeforeTheEnd_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        FlowRunInfo run = EcsTestSupport.run(null);
        ObjectNode c = config(run, Map.of("command", "sh -c 'sleep 1; exit 0'"));
        RunHandle h = launch(run, c);
        List<InfrastructureEvent> events = new ArrayList<>();
        assertThat(awaitTerminal(h, c, new ArrayList<>(), events)).isEqualTo(Phase.Exited.of(0));
        String arn = EcsPid.of(h).taskArn();
        assertThat(events).extracting(InfrastructureEvent::name).doesNotHaveDuplicates()
                .contains("prefect.ecs.task.running").last().isEqualTo("prefect.ecs.task.stopped");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.resourceId()).isEqualTo("prefect.ecs.task." + arn.substring(arn.lastIndexOf('/') + 1));
            assertThat(e.labels()).containsEntry("ecs.taskArn", arn).containsKey("ecs.taskDefinitionArn");
            assertThat(e.labels().get("ecs.clusterArn")).endsWith(":cluster/" + CLUSTER);
        });
    }

    @Test
    void aTaskThatFailsToStartIsGoneWithEcsReason_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        aws.failNextTaskToStart("CannotPullContainerError: pull image manifest has been retried 5 time(s)");
        FlowRunInfo run = EcsTestSupport.run(null);
        ObjectNode c = config(run, Map.of());
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        Phase end = awaitTerminal(launch(run, c), c, lines);
        assertThat(end).isInstanceOf(Phase.Gone.class);
        assertThat(((Phase.Gone) end).reason()).startsWith("ECS task failed to start: CannotPullContainerError: pull "
                + "image manifest has been retried 5 time(s)");
        assertThat(lines).as("the run's log, before the end").isNotEmpty();
        assertThat(lines.getFirst()).contains("stopped before its flow run could run: stopCode TaskFailedToStart: "
                + "CannotPullContainerError: pull image manifest has been retried 5 time(s)");
    }

    @Test
    void theCloudWatchLogOfATaskThatFailedToStartReachesTheRunsLog_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        FlowRunInfo run = EcsTestSupport.run(null);
        ObjectNode c = config(run, Map.of("configure_cloudwatch_logs", true, "cloudwatch_logs_prefix", "pworker-test",
                "execution_role_arn", "arn:aws:iam::123456789012:role/ecs-execution"));
        aws.failNextTaskToStart("CannotStartContainerError: exec: \"prefect\": executable file not found");
        RunHandle h = launch(run, c);
        String taskId = EcsPid.of(h).taskArn().substring(EcsPid.of(h).taskArn().lastIndexOf('/') + 1);
        // what the awslogs driver would have written before the container failed
        try (var logs = EcsTestSupport.logs(aws)) {
            try {
                logs.createLogGroup(b -> b.logGroupName("prefect"));
            } catch (software.amazon.awssdk.services.cloudwatchlogs.model.ResourceAlreadyExistsException exists) {
                // made by another test
            }
            String stream = "pworker-test/prefect/" + taskId;
            logs.createLogStream(b -> b.logGroupName("prefect").logStreamName(stream));
            long now = System.currentTimeMillis();
            logs.putLogEvents(b -> b.logGroupName("prefect").logStreamName(stream).logEvents(
                    e -> e.timestamp(now).message("pip: resolving flows==1.0"),
                    e -> e.timestamp(now + 1).message("ERROR: No matching distribution found for flows==1.0\n"),
                    e -> e.timestamp(now + 2).message("x".repeat(TaskLogs.MAX_CHARACTERS))));
        }
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        Phase end = awaitTerminal(h, c, lines);
        assertThat(end).isInstanceOf(Phase.Gone.class);
        assertThat(((Phase.Gone) end).reason()).as("the crash message alone says why")
                .startsWith("ECS task failed to start: CannotStartContainerError")
                .endsWith(" Last lines of its CloudWatch log:\npip: resolving flows==1.0\nERROR: No matching "
                        + "distribution found for flows==1.0");
        assertThat(lines).containsSubsequence(
                "All 3 lines of CloudWatch log stream pworker-test/prefect/" + taskId + " of group prefect:",
                "pip: resolving flows==1.0", "ERROR: No matching distribution found for flows==1.0",
                "… and 1 more, not forwarded: the run's log takes at most 64 KiB of a task's CloudWatch log");
        assertThat(failureLines).as("the CloudWatch lines, and only those, are the task's own output").startsWith(
                "All 3 lines of CloudWatch log stream pworker-test/prefect/" + taskId + " of group prefect:")
                .noneMatch(l -> l.contains("CannotStartContainerError"));
        assertThat(aws.requests("DescribeTaskDefinition")).isNotEmpty();

        // no stream at all: one line, and the run still ends
        FlowRunInfo other = EcsTestSupport.run(null);
        ObjectNode c2 = config(other, Map.of("configure_cloudwatch_logs", true, "cloudwatch_logs_prefix",
                "pworker-test", "execution_role_arn", "arn:aws:iam::123456789012:role/ecs-execution"));
        aws.failNextTaskToStart("CannotPullContainerError: no such image");
        RunHandle h2 = launch(other, c2);
        String id2 = EcsPid.of(h2).taskArn().substring(EcsPid.of(h2).taskArn().lastIndexOf('/') + 1);
        List<String> lines2 = new java.util.concurrent.CopyOnWriteArrayList<>();
        assertThat(awaitTerminal(h2, c2, lines2)).isInstanceOf(Phase.Gone.class);
        assertThat(lines2).containsOnlyOnce("No CloudWatch log stream pworker-test/prefect/" + id2
                + " of group prefect: the container wrote no log there");
    }

    /** The preview of pworker render is what the launch then sends, but for what only AWS knows at launch. */
    @Test
    void thePreviewIsWhatTheLaunchSends() throws Exception {
        FlowRunInfo run = EcsTestSupport.run("d4444444-0000-0000-0000-000000000004");
        ObjectNode c = config(run, Map.of("auto_deregister_task_definition", true, "configure_cloudwatch_logs", true,
                "execution_role_arn", "arn:aws:iam::123456789012:role/ecs-execution", "task_role_arn",
                "arn:aws:iam::123456789012:role/flows", "env", Map.of("EXTRA", "1"), "command", "python -m flows"));
        ObjectNode preview = new EcsPlugin().preview(new LaunchRequest(run, c, log)).orElseThrow();
        assertThat(aws.count("RunTask")).as("the preview calls nothing").isZero();
        launch(run, c);
        assertThat(preview.get("RegisterTaskDefinition")).isEqualTo(last("RegisterTaskDefinition"));
        ObjectNode sent = last("RunTask").deepCopy();
        JsonNode shown = preview.get("RunTask");
        for (String placeholder : List.of("taskDefinition", "clientToken", "networkConfiguration")) {
            assertThat(shown.path(placeholder).asText()).as(placeholder).startsWith("<").endsWith(">");
            sent.set(placeholder, shown.get(placeholder));
        }
        assertThat(shown).isEqualTo(sent);
        assertThat(shown.path("tags").toString()).contains(RunTaskRequests.DEREGISTER_TAG);

        // a custom network is shown as it is sent; a bad configuration fails as the launch would
        String vpc = ec2.describeVpcs(b -> b.filters(f -> f.name("isDefault").values("true"))).vpcs().getFirst().vpcId();
        ObjectNode custom = config(run, Map.of("vpc_id", vpc, "network_configuration",
                Map.of("subnets", List.of("subnet-1"), "assignPublicIp", "DISABLED")));
        assertThat(new EcsPlugin().preview(new LaunchRequest(run, custom, log)).orElseThrow()
                .at("/RunTask/networkConfiguration/awsvpcConfiguration/subnets/0").asText()).isEqualTo("subnet-1");
        // a definition given by ARN is only described at launch
        String arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/given:4";
        int describedBefore = aws.count("DescribeTaskDefinition");
        ObjectNode byArn = new EcsPlugin().preview(new LaunchRequest(run, config(run,
                Map.of("task_definition_arn", arn)), log)).orElseThrow();
        assertThat(byArn.path("RegisterTaskDefinition").asText()).startsWith("<none: the launch runs task definition "
                + arn);
        assertThat(byArn.at("/RunTask/taskDefinition").asText()).isEqualTo(arn);
        assertThat(aws.count("DescribeTaskDefinition")).as("the preview calls nothing").isEqualTo(describedBefore);
        assertThatThrownBy(() -> new EcsPlugin().preview(new LaunchRequest(run, config(run,
                Map.of("launch_type", "LAMBDA")), log))).isInstanceOf(LaunchException.class)
                .hasMessageContaining("'launch_type': 'LAMBDA' is not one of");
    }

    @Test
    void aTaskThatDoesNotStartInTimeIsStoppedAndItsRunEnds_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        aws.pendingPolls = 100_000;
        try {
            FlowRunInfo run = EcsTestSupport.run(null);
            ObjectNode c = config(run, Map.of("command", "sh -c 'sleep 30'", "task_start_timeout_seconds", 1));
            RunHandle h = launch(run, c);
            Phase end = awaitTerminal(h, c);
            assertThat(end).isInstanceOf(Phase.Gone.class);
            assertThat(((Phase.Gone) end).reason()).matches("ECS task did not start within 1 s "
                    + "\\(task_start_timeout_seconds\\): it was still (PROVISIONING|PENDING), so the worker stopped it");
            JsonNode stop = last("StopTask");
            assertThat(stop.path("task").asText()).isEqualTo(EcsPid.of(h).taskArn());
            assertThat(stop.path("reason").asText()).isEqualTo("Did not start within 1 s (task_start_timeout_seconds)");
        } finally {
            aws.pendingPolls = 0;
        }
    }

    @Test
    void anAutoDeregisteredDefinitionIsDeregisteredOnceItsTaskStopped_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        FlowRunInfo run = EcsTestSupport.run("d3333333-0000-0000-0000-000000000003");
        ObjectNode c = config(run, Map.of("auto_deregister_task_definition", true, "command", "sh -c 'exit 0'"));
        RunHandle h = launch(run, c);
        assertThat(last("RunTask").path("tags").toString())
                .contains("{\"key\":\"prefect.io/degregister-task-definition\",\"value\":\"true\"}");
        assertThat(awaitTerminal(h, c)).isEqualTo(Phase.Exited.of(0));
        launcher.release(h, c);
        String definition = last("RunTask").path("taskDefinition").asText();
        assertThat(last("DeregisterTaskDefinition").path("taskDefinition").asText()).isEqualTo(definition);
        assertThat(admin.describeTaskDefinition(b -> b.taskDefinition(definition)).taskDefinition().statusAsString())
                .isEqualTo("INACTIVE");
    }

    @Test
    void discoverListsRunningTasksOfThePool() throws Exception {
        FlowRunInfo run = EcsTestSupport.run(null);
        RunHandle h = launch(run, config(run, Map.of()));
        List<Discovered> found = launcher.discover(new InfrastructureScope(run.workPoolId(), run.workPoolName(), null));
        assertThat(found).anyMatch(d -> d.flowRunId().equals(run.id())
                && d.handle().infrastructurePid().equals(h.infrastructurePid()));
        assertThat(launcher.discover(new InfrastructureScope("another-pool", "x", null))).isEmpty();
    }

    @Test
    void aFreshLauncherDiscoversThePoolsTasksThroughTheScopesConfiguration() throws Exception {
        FlowRunInfo run = EcsTestSupport.run(null);
        RunHandle h = launch(run, config(run, Map.of()));
        try (EcsLauncher fresh = EcsLauncher.create(EcsTestSupport.context(Map.of()))) {
            assertThat(fresh.discover(new InfrastructureScope(run.workPoolId(), run.workPoolName(), null)))
                    .as("no cluster known without the pool's defaults").isEmpty();
            // the pool's defaults: its credentials block and cluster, nothing of the run
            ObjectNode defaults = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()
                    .put("cluster", CLUSTER);
            defaults.set("aws_credentials", EcsTestSupport.credentials(aws.endpoint.toString()));
            List<Discovered> found = fresh.discover(new InfrastructureScope(run.workPoolId(), run.workPoolName(),
                    null, defaults));
            // other tests' tasks of the same pool may still run: this run's task, once
            assertThat(found).filteredOn(d -> d.flowRunId().equals(run.id())).singleElement().satisfies(d -> {
                assertThat(d.handle().infrastructurePid()).isEqualTo(h.infrastructurePid());
            });
        }
    }

    /** moto's own task states: each DescribeTasks moves a task one step from RUNNING to STOPPED (exit code 0). */
    @Test
    void oneDescribeTasksCallServesAHundredWatchedTasks() throws Exception {
        String cluster = "pworker-batch";
        admin.createCluster(b -> b.clusterName(cluster));
        String td = admin.registerTaskDefinition(b -> b.family("batch").networkMode(NetworkMode.AWSVPC)
                .requiresCompatibilities(software.amazon.awssdk.services.ecs.model.Compatibility.FARGATE)
                .cpu("256").memory("512").containerDefinitions(d -> d.name("prefect").image("i").memory(128)))
                .taskDefinition().taskDefinitionArn();
        String subnet = ec2.describeSubnets().subnets().getFirst().subnetId();
        List<String> arns = new ArrayList<>();
        while (arns.size() < 120) {
            admin.runTask(b -> b.cluster(cluster).taskDefinition(td).count(10).launchType(LaunchType.FARGATE)
                    .networkConfiguration(n -> n.awsvpcConfiguration(AwsVpcConfiguration.builder().subnets(subnet)
                            .securityGroups(List.of()).build())))
                    .tasks().forEach(t -> arns.add(t.taskArn()));
        }
        aws.forgetCalls();
        Map<String, Phase> ends = new ConcurrentHashMap<>();
        ObjectNode c = config(EcsTestSupport.run(null), Map.of("cluster", cluster));
        for (String arn : arns) {
            launcher.watch(RunHandle.ofPid(cluster + "::" + arn), c, p -> {
                if (p.terminal()) {
                    ends.put(arn, p);
                }
            });
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ends.size() < arns.size() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(ends).hasSize(120).allSatisfy((arn, p) -> assertThat(p).isEqualTo(Phase.Exited.of(0)));
        List<JsonNode> describes = aws.requests("DescribeTasks");
        List<Integer> sizes = describes.stream().map(d -> d.path("tasks").size()).toList();
        // at most 100 tasks a call, and as many as that once all are watched; four polls move every task to
        // STOPPED (RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING), so about ten calls, not 120 a poll
        assertThat(sizes).as("tasks per DescribeTasks call").allMatch(n -> n <= 100).contains(100);
        assertThat(describes.size()).as("DescribeTasks calls: " + sizes).isLessThanOrEqualTo(14);
    }

    @Test
    void credentialsNeverReachLogsMessagesPhasesOrHandles_throughTheLocalAgentWrapper() throws Exception {
        String token = "FQoGZXIvYXdzEJr-session-token-must-not-leak";
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Level before = root.getLevel();
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        root.addAppender(captured);
        // the worker at its most verbose: everything at DEBUG except the HTTP client's wire dump (as the core's
        // LogSetup does) and the AWS SDK's own plumbing, which the core must also keep at INFO (see the next test)
        root.setLevel(Level.DEBUG);
        context.getLogger("io.pworker").setLevel(Level.DEBUG);
        context.getLogger("org.apache.hc").setLevel(Level.WARN);
        context.getLogger("software.amazon.awssdk").setLevel(Level.INFO);
        List<String> seen = new ArrayList<>();
        try {
            aws.runCommandsLocally = true;
            FlowRunInfo run = EcsTestSupport.run(null);
            ObjectNode c = config(run, Map.of("command", "sh -c 'exit 2'", "auto_deregister_task_definition", true));
            ((ObjectNode) c.get("aws_credentials")).put("aws_session_token", token);
            RunHandle h = launch(run, c);
            seen.add(h.toString());
            seen.add(awaitTerminal(h, c).toString());
            seen.add(launcher.recover(h, c).toString());
            seen.add(launcher.kill(h, c, Duration.ofSeconds(1)).toString());
            launcher.release(h, c);
            for (Map<String, Object> bad : List.<Map<String, Object>>of(Map.of("cluster", "nothere"),
                    Map.of("task_definition_arn", "arn:aws:ecs:us-east-1:123456789012:task-definition/none:1"))) {
                ObjectNode failing = config(run, bad);
                ((ObjectNode) failing.get("aws_credentials")).put("aws_session_token", token);
                try {
                    launch(EcsTestSupport.run(null), failing);
                } catch (LaunchException e) {
                    seen.add(e.getMessage());
                }
            }
            ObjectNode unreachable = config(run, Map.of());
            ((ObjectNode) unreachable.get("aws_credentials")).put("aws_session_token", token)
                    .with("aws_client_parameters").put("endpoint_url", "http://127.0.0.1:1");
            try {
                launcher.recover(h, unreachable);
            } catch (Exception e) {
                seen.add(e.toString());
            }
            // the poller logs why it cannot describe tasks
            try (var w = launcher.watch(h, unreachable, p -> seen.add(p.toString()))) {
                Thread.sleep(1500);
            }
        } finally {
            root.detachAppender(captured);
            root.setLevel(before);
            context.getLogger("io.pworker").setLevel(Level.INFO);
            context.getLogger("org.apache.hc").setLevel(null);
            context.getLogger("software.amazon.awssdk").setLevel(null);
        }
        seen.addAll(log.lines);
        for (ILoggingEvent e : captured.list) {
            seen.add(e.getFormattedMessage());
            if (e.getThrowableProxy() != null) {
                seen.add(ThrowableProxyUtil.asString(e.getThrowableProxy()));
            }
        }
        assertThat(captured.list).as("the launcher's own log lines").isNotEmpty();
        assertThat(seen).hasSizeGreaterThan(10).noneMatch(s -> s.contains(EcsTestSupport.SECRET_KEY) || s.contains(token));
    }

    /**
     * Why the core must keep {@code software.amazon.awssdk} at INFO even when the worker logs at DEBUG: the SDK's
     * SigV4 signer writes each canonical request, session-token header included, at DEBUG. Nothing a plugin can
     * change; this test fails once the SDK stops doing it.
     */
    @Test
    void theSdksSignerWritesTheSessionTokenAtDebugSoItsLoggerMustStayAtInfo() throws Exception {
        String token = "FQoGZXIvYXdzEJr-another-session-token";
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger signer = context.getLogger("software.amazon.awssdk.http.auth.aws.internal.signer");
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        signer.addAppender(captured);
        signer.setAdditive(false);
        signer.setLevel(Level.DEBUG);
        try {
            ObjectNode c = config(EcsTestSupport.run(null), Map.of());
            ((ObjectNode) c.get("aws_credentials")).put("aws_session_token", token);
            launcher.recover(RunHandle.ofPid(CLUSTER + "::arn:aws:ecs:us-east-1:123456789012:task/" + CLUSTER + "/x"), c);
        } finally {
            signer.detachAppender(captured);
            signer.setAdditive(true);
            signer.setLevel(null);
        }
        assertThat(captured.list).anyMatch(e -> e.getFormattedMessage().contains(token));
    }

    @Test
    void aTaskIsPendingWhileEcsProvisionsIt_throughTheLocalAgentWrapper() throws Exception {
        aws.runCommandsLocally = true;
        aws.pendingPolls = 2;
        try {
            FlowRunInfo run = EcsTestSupport.run(null);
            ObjectNode c = config(run, Map.of("command", "sh -c 'sleep 1'"));
            RunHandle h = launch(run, c);
            List<Phase> phases = new java.util.concurrent.CopyOnWriteArrayList<>();
            try (var w = launcher.watch(h, c, phases::add)) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while ((phases.isEmpty() || !phases.getLast().terminal()) && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
            }
            assertThat(phases).containsExactly(new Phase.Pending("ECS task is PROVISIONING"),
                    new Phase.Pending("ECS task is PENDING"), new Phase.Running(), Phase.Exited.of(0));
        } finally {
            aws.pendingPolls = 0;
        }
    }

    @Test
    void anInterruptedLaunchStopsTheTaskItStarted() throws Exception {
        aws.delay("RunTask", Duration.ofSeconds(2));
        try {
            FlowRunInfo run = EcsTestSupport.run(null);
            ObjectNode c = config(run, Map.of());
            java.util.concurrent.CompletableFuture<Throwable> outcome = new java.util.concurrent.CompletableFuture<>();
            Thread t = Thread.ofVirtual().start(() -> {
                try {
                    launcher.launch(new LaunchRequest(run, c, log));
                    outcome.complete(null);
                } catch (Throwable e) {
                    outcome.complete(e);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (aws.count("RunTask") == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            t.interrupt();
            assertThat(outcome.get(30, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
            JsonNode stop = last("StopTask");
            assertThat(stop.path("reason").asText()).isEqualTo("Stopped by Prefect worker");
            String arn = stop.path("task").asText();
            assertThat(admin.describeTasks(b -> b.cluster(CLUSTER).tasks(arn)).tasks().getFirst().desiredStatus())
                    .isEqualTo("STOPPED");
        } finally {
            aws.delay("RunTask", Duration.ZERO);
        }
    }

    @Test
    void anAssumedRoleSignsTheCallsThroughSts() throws Exception {
        ObjectNode creds = EcsTestSupport.credentials(aws.endpoint.toString())
                .put("assume_role_arn", "arn:aws:iam::123456789012:role/pworker-runner");
        creds.putObject("assume_role_kwargs").put("RoleSessionName", "pworker-test").put("DurationSeconds", "900");
        RunHandle h = launch(Map.of("aws_credentials", creds));
        assertThat(aws.count("AssumeRole")).isEqualTo(1);
        assertThat(h.infrastructurePid()).startsWith(CLUSTER + "::");
    }
}
