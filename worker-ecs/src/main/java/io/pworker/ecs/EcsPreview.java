package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import java.util.Map;

/**
 * What a launch would send to ECS, for {@code pworker render}: the RegisterTaskDefinition and RunTask requests as
 * the SDK would send them, made by the launcher's own code ({@link TaskDefinitions#desired},
 * {@link RunTaskRequests#request}) without AWS. What only AWS can tell at launch is a placeholder text in angle
 * brackets: the task definition's ARN, the default VPC's subnets, a task definition given by ARN, and the region
 * when neither the credentials block nor the environment names one.
 */
final class EcsPreview {

    private EcsPreview() {
    }

    /** @param environment the worker's environment (region, {@code PWORKER_ECS_DEFAULT_IMAGE}) */
    static ObjectNode of(LaunchRequest request, Map<String, String> environment) throws LaunchException {
        EcsJobConfiguration c = EcsJobConfiguration.from(request.configuration());
        String region = AwsClients.configuredRegion(c.credentials(), environment);
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        String givenArn = c.taskRunRequest().path("taskDefinition").asText("");
        JsonNode definition;
        String arn;
        if (!givenArn.isBlank()) {
            arn = givenArn;
            definition = JsonNodeFactory.instance.objectNode();
            out.put("RegisterTaskDefinition", "<none: the launch runs task definition " + givenArn + " as ECS "
                    + "describes it; the job's task definition settings are ignored>");
        } else {
            ObjectNode desired = TaskDefinitions.desired(c, request.run(),
                    region != null ? region : "<region of the AWS SDK's default chain>",
                    EcsLauncher.defaultImage(environment.get("PWORKER_ECS_DEFAULT_IMAGE"), request));
            definition = desired;
            arn = "<ARN of this task definition: the launch reuses the one last used for this deployment"
                    + (c.matchLatestRevisionInFamily() ? ", or the family's latest revision," : "")
                    + " when it is ACTIVE and equal to this one, else registers this one>";
            out.set("RegisterTaskDefinition", SdkJson.wire(TaskDefinitions.registerRequest(desired)));
        }
        Networks.Source network = Networks.needed(c, definition);
        // a preview shows the deregistration tag a first launch (which registers) would add
        ObjectNode runTask = SdkJson.wire(RunTaskRequests.request(c, definition, arn,
                network == Networks.Source.CONFIGURED ? Networks.configured(c.networkConfiguration()) : null,
                givenArn.isBlank(), RunTaskRequests.startedBy(request.run().id()), "<random, one per launch>"));
        if (network == Networks.Source.INFERRED) {
            runTask.put("networkConfiguration", "<at launch: every subnet of "
                    + (c.vpcId() == null ? "the region's default VPC" : "VPC " + c.vpcId())
                    + ", assignPublicIp ENABLED, no security groups>");
        } else if (!givenArn.isBlank() && !runTask.has("networkConfiguration")) {
            runTask.put("networkConfiguration", "<at launch, when the task definition uses awsvpc: every subnet of "
                    + (c.vpcId() == null ? "the region's default VPC" : "VPC " + c.vpcId()) + ">");
        }
        out.set("RunTask", runTask);
        return out;
    }
}
