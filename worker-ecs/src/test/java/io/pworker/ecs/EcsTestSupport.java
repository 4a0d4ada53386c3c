package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunLog;
import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatchlogs.CloudWatchLogsClient;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ecs.EcsClient;

/**
 * What the ecs tests share: job configurations rendered from the plugin's own default template the way the core
 * renders them, the test's own AWS clients (for setting up clusters behind the launcher's back), and a run log
 * that keeps its lines.
 */
final class EcsTestSupport {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String ACCESS_KEY = "AKIDPWORKERTEST";
    static final String SECRET_KEY = "s3cr3t-Key-That-Must-Not-Leak-0123456789";
    private static final Pattern PLACEHOLDER = Pattern.compile("^\\{\\{\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*}}$");

    private EcsTestSupport() {
    }

    static FlowRunInfo run(String deploymentId) {
        String id = UUID.randomUUID().toString();
        return new FlowRunInfo(id, "tidy-otter-" + id.substring(0, 4), "f0000000-0000-0000-0000-000000000001", "etl",
                deploymentId, deploymentId == null ? null : "nightly", "ecs pool", "p0000000-0000-0000-0000-00000000000a",
                "ECSWorker test", List.of());
    }

    /** The aws-credentials block the core resolves, pointed at {@code endpoint}. */
    static ObjectNode credentials(String endpoint) {
        ObjectNode block = JSON.createObjectNode()
                .put("aws_access_key_id", ACCESS_KEY)
                .put("aws_secret_access_key", SECRET_KEY)
                .put("region_name", MotoServer.REGION);
        block.putObject("aws_client_parameters").put("endpoint_url", endpoint);
        return block;
    }

    /**
     * The job configuration the core would hand over for {@code run}: the default template's job_configuration
     * with every placeholder replaced by the variable's value (or its default, or null), then env, labels, name
     * and command prepared as the core prepares them.
     */
    static ObjectNode configuration(FlowRunInfo run, Map<String, ?> variables) {
        ObjectNode template = new EcsPlugin().defaultBaseJobTemplate();
        Map<String, JsonNode> values = new LinkedHashMap<>();
        template.path("variables").path("properties").properties().forEach(e -> {
            if (e.getValue().has("default")) {
                values.put(e.getKey(), e.getValue().get("default"));
            }
        });
        variables.forEach((k, v) -> values.put(k, JSON.valueToTree(v)));
        ObjectNode c = (ObjectNode) render(template.get("job_configuration"), values);
        ObjectNode env = c.path("env").isObject() ? (ObjectNode) c.get("env") : c.putObject("env");
        env.put("PREFECT__FLOW_RUN_ID", run.id());
        ObjectNode labels = c.path("labels").isObject() ? (ObjectNode) c.get("labels") : c.putObject("labels");
        labels.put("prefect.io/flow-run-id", run.id()).put("prefect.io/flow-run-name", run.name())
                .put("prefect.io/version", "3.4.25").put("prefect.io/work-pool-name", run.workPoolName())
                .put("prefect.io/work-pool-id", run.workPoolId()).put("prefect.io/worker-name", run.workerName());
        if (c.path("name").isNull()) {
            c.put("name", run.name());
        }
        if (c.path("command").isNull()) {
            c.put("command", "prefect flow-run execute");
        }
        return c;
    }

    private static JsonNode render(JsonNode node, Map<String, JsonNode> values) {
        if (node.isTextual()) {
            Matcher m = PLACEHOLDER.matcher(node.asText());
            return m.matches() ? values.getOrDefault(m.group(1), JsonNodeFactory.instance.nullNode()).deepCopy() : node;
        }
        if (node.isObject()) {
            ObjectNode out = JSON.createObjectNode();
            node.properties().forEach(e -> out.set(e.getKey(), render(e.getValue(), values)));
            return out;
        }
        if (node.isArray()) {
            var out = JSON.createArrayNode();
            node.forEach(e -> out.add(render(e, values)));
            return out;
        }
        return node;
    }

    static PluginContext context(Map<String, String> environment) {
        return new PluginContext("ECSWorker test", environment, new PrintStream(OutputStream.nullOutputStream()),
                Clock.systemUTC(), Path.of(System.getProperty("java.io.tmpdir")));
    }

    static EcsClient ecs(MotoWithLocalAgent aws) {
        return EcsClient.builder().endpointOverride(aws.endpoint).region(Region.of(MotoServer.REGION))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    static CloudWatchLogsClient logs(MotoWithLocalAgent aws) {
        return CloudWatchLogsClient.builder().endpointOverride(aws.endpoint).region(Region.of(MotoServer.REGION))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    static Ec2Client ec2(MotoWithLocalAgent aws) {
        return Ec2Client.builder().endpointOverride(aws.endpoint).region(Region.of(MotoServer.REGION))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    /** A run log that keeps its lines, level first. */
    static final class KeptLog implements RunLog {
        final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public void info(String message) {
            lines.add("INFO " + message);
        }

        @Override
        public void warn(String message) {
            lines.add("WARN " + message);
        }

        @Override
        public void error(String message, Throwable cause) {
            lines.add("ERROR " + message + (cause == null ? "" : " " + cause));
        }
    }
}
