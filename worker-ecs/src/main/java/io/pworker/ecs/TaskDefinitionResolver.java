package io.pworker.ecs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.services.ecs.model.ClientException;
import software.amazon.awssdk.services.ecs.model.RegisterTaskDefinitionRequest;
import software.amazon.awssdk.services.ecs.model.TaskDefinition;

/**
 * Finds the task definition a run uses, as prefect-aws does: the one named by ARN; else the one last used for the
 * same deployment (or flow), or the family's latest revision when asked, as long as it is ACTIVE and equal to the
 * built definition after normalisation; else a newly registered revision. One per launcher: the memory of what
 * was used last lives as long as the worker process.
 */
final class TaskDefinitionResolver {

    /** @param registeredForRun registered by this launch, so it may be deregistered once the task stopped */
    record Definition(String arn, ObjectNode json, boolean registeredForRun) {
    }

    private record Key(AwsSettings settings, String deploymentOrFlow) {
    }

    /** The ARN of the task definition last used for a deployment (or flow). */
    private final Map<Key, String> definitions = new ConcurrentHashMap<>();

    /** The task definition to run: the one named by ARN, or one equal to the built definition, or a new one. */
    Definition resolve(AwsClients aws, EcsJobConfiguration c, LaunchRequest request, String defaultImage)
            throws LaunchException {
        String launchType = TaskDefinitions.launchType(c);
        String arn = c.taskRunRequest().path("taskDefinition").asText("");
        if (!arn.isBlank()) {
            if (!Values.dropEmpty(c.taskDefinition()).isEmpty()) {
                request.log().warn("task_definition_arn is set, so the task definition settings of the job "
                        + "configuration are ignored");
            }
            TaskDefinition existing = describeDefinition(aws, arn);
            if (existing == null) {
                throw new LaunchException("task definition '" + arn + "' (task_definition_arn) does not exist");
            }
            ObjectNode json = SdkJson.json(existing);
            TaskDefinitions.validate(json, launchType);
            return new Definition(existing.taskDefinitionArn(), json, false);
        }
        ObjectNode desired = TaskDefinitions.desired(c, request.run(), aws.region.id(), defaultImage);
        ObjectNode wanted = TaskDefinitions.normalise(desired);
        Key key = new Key(c.credentials(), TaskDefinitions.deploymentOrFlow(request.run()));
        String cached = definitions.get(key);
        for (String candidate : new String[] {cached,
                c.matchLatestRevisionInFamily() ? desired.path("family").asText() : null}) {
            if (candidate == null) {
                continue;
            }
            TaskDefinition existing = describeDefinition(aws, candidate);
            if (existing != null && "ACTIVE".equals(existing.statusAsString())
                    && TaskDefinitions.normalise(SdkJson.json(existing)).equals(wanted)) {
                definitions.put(key, existing.taskDefinitionArn());
                request.log().info("Using task definition " + existing.taskDefinitionArn());
                return new Definition(existing.taskDefinitionArn(), SdkJson.json(existing), false);
            }
        }
        RegisterTaskDefinitionRequest register = TaskDefinitions.registerRequest(desired);
        TaskDefinition registered;
        try {
            registered = aws.ecs.registerTaskDefinition(register).taskDefinition();
        } catch (AwsServiceException e) {
            throw EcsErrors.friendly("RegisterTaskDefinition", e);
        }
        definitions.put(key, registered.taskDefinitionArn());
        request.log().info("Registered task definition " + registered.taskDefinitionArn());
        return new Definition(registered.taskDefinitionArn(), SdkJson.json(registered), true);
    }

    /** The definition, or null when ECS has none by that ARN or family. */
    private static TaskDefinition describeDefinition(AwsClients aws, String arnOrFamily) {
        try {
            return aws.ecs.describeTaskDefinition(b -> b.taskDefinition(arnOrFamily)).taskDefinition();
        } catch (ClientException e) {
            return null;
        }
    }


    /** A deregistered definition is not offered again. */
    void forget(String arn) {
        definitions.values().remove(arn);
    }
}
