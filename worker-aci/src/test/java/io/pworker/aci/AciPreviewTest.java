package io.pworker.aci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The ACI plugin's preview for {@code pworker render} is the ARM deployment a launch sends. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class AciPreviewTest {

    private static final RunLog QUIET = io.pworker.testkit.QuietRunLog.INSTANCE;

    @RegisterExtension
    final FakeAzureExtension fake = new FakeAzureExtension();

    @Test
    void thePreviewedDeploymentIsTheOneTheLaunchSends() throws Exception {
        FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, "etl", null, null, "pool",
                null, "w", List.of());
        ObjectNode configuration = AciTestRuns.configuration(run, "{\"env\": {\"STAGE\": \"prod\"}, \"cpu\": 2}");
        configuration.putArray("command").add("sh").add("-c").add("exit 0");

        JsonNode preview = new AciPlugin().preview(new LaunchRequest(run, configuration.deepCopy(), QUIET)).orElseThrow();

        InfrastructureLauncher launcher = new AciPlugin(fake.get().cloud()).create(AciTestRuns.context(Map.of(),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        try {
            RunHandle handle = launcher.launch(new LaunchRequest(run, configuration, QUIET));
            launcher.kill(handle, configuration, Duration.ZERO);
            launcher.release(handle, configuration);
        } finally {
            launcher.close();
        }
        assertThat(fake.get().deploymentBodies).hasSize(1);
        assertThat(preview.path("body")).isEqualTo(fake.get().deploymentBodies.getFirst());
        String group = GroupName.of("etl", run.id());
        assertThat(preview.path("container_group").asText()).isEqualTo(group);
        assertThat(preview.path("request").asText()).isEqualTo("PUT /subscriptions/sub-0001/resourcegroups/rg-flows"
                + "/providers/Microsoft.Resources/deployments/" + GroupName.deploymentName(group));
        assertThat(fake.get().requests).anyMatch(r -> r.toLowerCase().startsWith(("PUT /subscriptions/sub-0001/resourcegroups/"
                + "rg-flows/providers/Microsoft.Resources/deployments/" + GroupName.deploymentName(group)).toLowerCase()));
        JsonNode container = preview.at("/body/properties/template/resources/0/properties/containers/0/properties");
        assertThat(container.path("environmentVariables").findValuesAsText("name")).contains("STAGE", "PREFECT_API_KEY");
        assertThat(container.path("resources").path("requests").path("cpu").asDouble()).isEqualTo(2.0);
    }

    @Test
    void aConfigurationTheLaunchWouldRefuseIsRefusedWithItsMessage() {
        FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, "etl", null, null, "pool",
                null, "w", List.of());
        ObjectNode configuration = AciTestRuns.configuration(run, "{}");
        configuration.remove("resource_group_name");
        assertThatThrownBy(() -> new AciPlugin().preview(new LaunchRequest(run, configuration, QUIET)))
                .isInstanceOf(LaunchException.class).hasMessageContaining("resource_group_name");
    }
}
