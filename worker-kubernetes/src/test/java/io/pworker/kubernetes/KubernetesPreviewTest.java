package io.pworker.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The kubernetes plugin's preview for {@code pworker render} is the Job a launch POSTs to the API server. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KubernetesPreviewTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final RunLog QUIET = io.pworker.testkit.QuietRunLog.INSTANCE;

    @TempDir
    Path dir;

    @Test
    void thePreviewedJobIsTheBodyTheLaunchSends() throws Exception {
        try (FakeKubernetes cluster = new FakeKubernetes(new ScriptedKubelet())) {
            cluster.createNamespace("etl");
            FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", UUID.randomUUID().toString(),
                    "etl", null, null, "k8s-pool", UUID.randomUUID().toString(), "k8s worker 1", List.of());
            ObjectNode variables = (ObjectNode) JSON.readTree("""
                    {"image": "etl:7", "namespace": "etl", "env": {"STAGE": "prod"},
                     "service_account_name": "runner", "finished_job_ttl": 600}
                    """);
            variables.putObject("cluster_config").put("context_name", "fake").set("config", cluster.kubeconfig("fake"));
            ObjectNode configuration = Rendered.configuration(run, variables);

            JsonNode preview = new KubernetesPlugin().preview(new LaunchRequest(run, configuration.deepCopy(), QUIET))
                    .orElseThrow();

            KubernetesLauncher launcher = new KubernetesLauncher("k8s worker 1",
                    KubernetesLauncherContractTest.quickSettings(Map.of()),
                    new ClusterAccess(Map.of(), dir.resolve("no-service-account"), true), Duration.ofSeconds(30));
            try {
                RunHandle handle = launcher.launch(new LaunchRequest(run, configuration, QUIET));
                assertThat(handle).isNotNull();
            } finally {
                launcher.close();
            }
            List<String> posted = cluster.posted("jobs", "etl");
            assertThat(posted).hasSize(1);
            assertThat(preview.path("body")).isEqualTo(JSON.readTree(posted.getFirst()));
            assertThat(preview.path("request").asText()).isEqualTo("POST /apis/batch/v1/namespaces/etl/jobs");
            assertThat(preview.path("cluster").asText()).isEqualTo("the cluster_config block's kubeconfig, context fake");
            JsonNode container = preview.at("/body/spec/template/spec/containers/0");
            assertThat(container.path("image").asText()).isEqualTo("etl:7");
            assertThat(container.path("env").findValuesAsText("name")).contains("STAGE", "PREFECT__FLOW_RUN_ID");
            assertThat(preview.at("/body/spec/template/spec/serviceAccountName").asText()).isEqualTo("runner");
            assertThat(preview.at("/body/spec/ttlSecondsAfterFinished").asInt()).isEqualTo(600);
            assertThat(cluster.violations()).isEmpty();
        }
    }

    @Test
    void aManifestKubernetesWouldRefuseIsRefusedByThePreviewWithTheLaunchsMessage() throws Exception {
        FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, null, null, null, "p",
                null, "w", List.of());
        ObjectNode configuration = Rendered.configuration(run, JSON.createObjectNode());
        ((ObjectNode) configuration.at("/job_manifest/spec")).put("backoffLimit", "many");
        assertThatThrownBy(() -> new KubernetesPlugin().preview(new LaunchRequest(run, configuration, QUIET)))
                .isInstanceOf(LaunchException.class)
                .hasMessageStartingWith("invalid job configuration 'job_manifest': not a valid Kubernetes Job");
    }
}
