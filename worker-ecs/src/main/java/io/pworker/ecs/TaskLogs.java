package io.pworker.ecs;

import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.cloudwatchlogs.model.GetLogEventsResponse;
import software.amazon.awssdk.services.cloudwatchlogs.model.OutputLogEvent;
import software.amazon.awssdk.services.cloudwatchlogs.model.ResourceNotFoundException;
import software.amazon.awssdk.services.ecs.model.ContainerDefinition;
import software.amazon.awssdk.services.ecs.model.LogConfiguration;
import software.amazon.awssdk.services.ecs.model.Task;
import software.amazon.awssdk.services.ecs.model.TaskDefinition;

/**
 * The CloudWatch log of a crashed task's flow-run container, sent to the run's log as prefect-aws' observer does
 * (up to 500 events from the start of the stream): when the flow never got to report, it is often the only trace
 * of why. The container's awslogs options say where the stream is: {@code <awslogs-stream-prefix>/<container
 * name>/<task id>} in {@code awslogs-group}, in {@code awslogs-region}. Reading it never fails the watch: a stream
 * that cannot be read is one line saying so.
 */
final class TaskLogs {

    static final int MAX_EVENTS = 500;
    /** A bound on what one crash adds to the run's log (an event may hold up to 256 KiB). */
    static final int MAX_CHARACTERS = 64 * 1024;
    private static final int EXCERPT_LINES = 20;
    private static final int EXCERPT_CHARACTERS = 4000;

    /** The poll of the task's cluster waits for these calls: each is bounded tighter than the usual two minutes. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);

    private final AwsClients aws;

    TaskLogs(AwsClients aws) {
        this.aws = aws;
    }

    /**
     * Sends the log of {@code container} of the stopped {@code task} to {@code sink}, when it has an awslogs one.
     *
     * @return the log's lines that were sent (without the lines about them), empty when there were none
     */
    List<String> forward(Task task, String container, Consumer<String> sink) {
        ContainerDefinition definition;
        try {
            definition = containerDefinition(task, container).orElse(null);
        } catch (SdkException e) {
            sink.accept("Cannot read task definition " + task.taskDefinitionArn() + " to find the CloudWatch log of "
                    + "container " + container + ": " + e.getMessage());
            return List.of();
        }
        LogConfiguration config = definition == null ? null : definition.logConfiguration();
        if (config == null || !"awslogs".equals(config.logDriverAsString())) {
            return List.of();
        }
        container = definition.name();
        Map<String, String> options = config.options();
        String group = options.get("awslogs-group");
        String prefix = options.get("awslogs-stream-prefix");
        if (group == null || prefix == null) {
            sink.accept("Container " + container + " logs to CloudWatch without an awslogs-group and "
                    + "awslogs-stream-prefix, so its stream cannot be found");
            return List.of();
        }
        String stream = prefix + "/" + container + "/" + task.taskArn().substring(task.taskArn().lastIndexOf('/') + 1);
        String where = "CloudWatch log stream " + stream + " of group " + group;
        GetLogEventsResponse response;
        try {
            response = aws.logs(options.get("awslogs-region")).getLogEvents(b -> b.logGroupName(group)
                    .logStreamName(stream).startFromHead(true).limit(MAX_EVENTS)
                    .overrideConfiguration(o -> o.apiCallTimeout(CALL_TIMEOUT)));
        } catch (ResourceNotFoundException e) {
            sink.accept("No " + where + ": the container wrote no log there");
            return List.of();
        } catch (SdkException e) {
            sink.accept("Cannot read " + where + ": " + e.getMessage());
            return List.of();
        }
        List<OutputLogEvent> events = response.events();
        if (events.isEmpty()) {
            sink.accept(where + " is empty");
            return List.of();
        }
        sink.accept((events.size() == MAX_EVENTS ? "First " : "All ") + events.size() + " lines of " + where + ":");
        List<String> sent = new ArrayList<>();
        int left = MAX_CHARACTERS;
        for (int i = 0; i < events.size(); i++) {
            String line = events.get(i).message() == null ? "" : events.get(i).message().stripTrailing();
            if (line.length() > left) {
                sink.accept("… and " + (events.size() - i) + " more, not forwarded: the run's log takes at most "
                        + MAX_CHARACTERS / 1024 + " KiB of a task's CloudWatch log");
                return sent;
            }
            left -= line.length();
            sink.accept(line);
            sent.add(line);
        }
        return sent;
    }

    /**
     * The phase with the last lines of the log in its reason, so that the Crashed message alone says why (as the
     * kubernetes type does with a pod's log): at most 20 lines, 4000 characters.
     */
    static Phase withExcerpt(Phase phase, List<String> lines) {
        if (lines.isEmpty()) {
            return phase;
        }
        String text = String.join("\n", lines.subList(Math.max(0, lines.size() - EXCERPT_LINES), lines.size()));
        if (text.length() > EXCERPT_CHARACTERS) {
            text = "…" + text.substring(text.length() - EXCERPT_CHARACTERS);
        }
        String words = " Last lines of its CloudWatch log:\n" + text;
        return switch (phase) {
            case Phase.Exited e -> new Phase.Exited(new ExitStatus(e.status().code(),
                    ((e.status().reason() == null ? "" : e.status().reason()) + words).strip()));
            case Phase.Gone g -> new Phase.Gone(g.reason() + words);
            default -> phase;
        };
    }

    /** The flow-run container's definition, or the only container's when none has its name. */
    private Optional<ContainerDefinition> containerDefinition(Task task, String container) {
        if (task.taskDefinitionArn() == null) {
            return Optional.empty();
        }
        TaskDefinition definition = aws.ecs.describeTaskDefinition(b -> b.taskDefinition(task.taskDefinitionArn())
                .overrideConfiguration(o -> o.apiCallTimeout(CALL_TIMEOUT))).taskDefinition();
        List<ContainerDefinition> containers = definition.containerDefinitions();
        return containers.stream().filter(c -> container.equals(c.name())).findFirst()
                .or(() -> containers.size() == 1 ? Optional.of(containers.getFirst()) : Optional.empty());
    }
}
