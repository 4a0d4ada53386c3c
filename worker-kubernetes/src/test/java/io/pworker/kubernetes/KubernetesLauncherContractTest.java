package io.pworker.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.testkit.LauncherContract;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The launcher contract against the fake API server, whose kubelet runs every pod on the real Docker engine. */
class KubernetesLauncherContractTest extends LauncherContract {

    private static FakeKubernetes cluster;

    @BeforeAll
    static void startCluster() throws Exception {
        cluster = new FakeKubernetes(new DockerKubelet(DockerTestEngine.get().client()));
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
            assertThat(cluster.violations()).isEmpty();
        }
    }

    static KubernetesSettings quickSettings(Map<String, String> more) {
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                KubernetesSettings.PREFIX + "CREATE_JOB_RETRY_MIN_DELAY_SECONDS", "0",
                KubernetesSettings.PREFIX + "CREATE_JOB_RETRY_MAX_DELAY_JITTER_SECONDS", "0"));
        env.putAll(more);
        return KubernetesSettings.from(env);
    }

    @Override
    protected InfrastructureLauncher createLauncher() {
        return new KubernetesLauncher("contract-worker", quickSettings(Map.of()),
                new ClusterAccess(Map.of(), Path.of("/nonexistent"), true), Duration.ofSeconds(30));
    }

    @Override
    protected ObjectNode configuration(FlowRunInfo run, String script) {
        ObjectNode variables = JsonNodeFactory.instance.objectNode().put("image", DockerTestEngine.IMAGE)
                .put("image_pull_policy", "Never").put("command", Rendered.shell(script));
        variables.putObject("cluster_config").put("context_name", "fake").set("config", cluster.kubeconfig("fake"));
        return Rendered.configuration(run, variables);
    }

    @Override
    protected void removeFromOutside(RunHandle handle) throws Exception {
        JobRef ref = JobRef.of(handle);
        cluster.delete("jobs", ref.namespace(), ref.name(), "Background");
    }
}
