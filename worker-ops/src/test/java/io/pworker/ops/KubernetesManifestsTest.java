package io.pworker.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kubernetes.client.openapi.JSON;
import io.kubernetes.client.openapi.models.V1ConfigMap;
import io.kubernetes.client.openapi.models.V1Container;
import io.kubernetes.client.openapi.models.V1Deployment;
import io.kubernetes.client.openapi.models.V1Namespace;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaim;
import io.kubernetes.client.openapi.models.V1Role;
import io.kubernetes.client.openapi.models.V1RoleBinding;
import io.kubernetes.client.openapi.models.V1ServiceAccount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * deploy/kubernetes parses with client-java's models, which refuse fields Kubernetes does not know (a typo in a
 * manifest is a field the API server drops silently), and its probes point where the image serves.
 */
class KubernetesManifestsTest {

    private static final ObjectMapper TREES = new ObjectMapper();
    private static final Map<String, Class<?>> KINDS = Map.of(
            "Deployment", V1Deployment.class, "ServiceAccount", V1ServiceAccount.class, "Role", V1Role.class,
            "RoleBinding", V1RoleBinding.class, "ConfigMap", V1ConfigMap.class,
            "PersistentVolumeClaim", V1PersistentVolumeClaim.class, "Namespace", V1Namespace.class);
    private final Path dir = Repo.root().resolve("deploy/kubernetes");
    private final JSON json = new JSON();

    @SuppressWarnings("unchecked")
    private Map<String, Object> yaml(Path file) throws Exception {
        return (Map<String, Object>) new Yaml().load(Files.readString(file));
    }

    private <T> T model(Map<String, Object> tree, Class<T> type) throws Exception {
        return json.deserialize(TREES.writeValueAsString(tree), type);
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyResourceOfTheKustomizationParsesStrictly() throws Exception {
        Map<String, Object> kustomization = yaml(dir.resolve("kustomization.yaml"));
        List<String> resources = (List<String>) kustomization.get("resources");
        assertThat(resources).isNotEmpty();
        Map<String, Object> parsed = new HashMap<>();
        for (String resource : resources) {
            Map<String, Object> tree = yaml(dir.resolve(resource));
            String kind = (String) tree.get("kind");
            assertThat(KINDS).as(resource).containsKey(kind);
            parsed.put(kind, model(tree, KINDS.get(kind)));
        }
        assertThat(parsed).containsKeys("Deployment", "ServiceAccount", "Role", "RoleBinding", "PersistentVolumeClaim");
        // every YAML file in the directory is in the kustomization (none forgotten)
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".yaml"))
                    .filter(f -> !f.equals("kustomization.yaml"))).containsExactlyInAnyOrderElementsOf(resources);
        }

        V1Deployment deployment = (V1Deployment) parsed.get("Deployment");
        var pod = deployment.getSpec().getTemplate().getSpec();
        assertThat(pod.getServiceAccountName()).isEqualTo(((V1ServiceAccount) parsed.get("ServiceAccount")).getMetadata().getName());
        V1RoleBinding binding = (V1RoleBinding) parsed.get("RoleBinding");
        assertThat(binding.getRoleRef().getName()).isEqualTo(((V1Role) parsed.get("Role")).getMetadata().getName());
        assertThat(binding.getSubjects().get(0).getName()).isEqualTo(pod.getServiceAccountName());
        // the API key comes from a Secret, never from the manifests
        V1Container c = pod.getContainers().get(0);
        assertThat(c.getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("PREFECT_API_KEY");
            assertThat(e.getValueFrom().getSecretKeyRef().getName()).isNotBlank();
        });
        assertThat(((V1ConfigMap) parsed.get("ConfigMap")).getData()).doesNotContainKeys("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING");
        // the state directory is on the claim, so that a rescheduled pod finds its run records
        assertThat(c.getEnv()).anySatisfy(e -> assertThat(e.getName() + "=" + e.getValue())
                .isEqualTo("PWORKER_STATE_DIR=/var/lib/pworker/state"));
        String stateVolume = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/var/lib/pworker"))
                .findFirst().orElseThrow().getName();
        assertThat(pod.getVolumes()).anySatisfy(v -> {
            assertThat(v.getName()).isEqualTo(stateVolume);
            assertThat(v.getPersistentVolumeClaim().getClaimName())
                    .isEqualTo(((V1PersistentVolumeClaim) parsed.get("PersistentVolumeClaim")).getMetadata().getName());
        });
        assertThat(c.getResources().getLimits()).containsKey("memory");
        assertThat(c.getResources().getRequests()).containsKeys("memory", "cpu");
        // a graceful stop waits for the kill grace (30 s) + 20 s
        assertThat(pod.getTerminationGracePeriodSeconds()).isGreaterThan(50L);
    }

    @Test
    void theProbesPointAtThePortAndPathsTheImageServes() throws Exception {
        V1Deployment deployment = model(yaml(dir.resolve("deployment.yaml")), V1Deployment.class);
        V1Container c = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
        String dockerfile = Files.readString(Repo.root().resolve("deploy/container/Dockerfile"));
        int imagePort = Integer.parseInt(match(dockerfile, "PREFECT_WORKER_WEBSERVER_PORT=(\\d+)"));
        assertThat(match(dockerfile, "HEALTHCHECK .*CMD \\[\"(/opt/pworker/bin/healthcheck)\"\\]")).isNotEmpty();

        String portName = c.getLivenessProbe().getHttpGet().getPort().getStrValue();
        int containerPort = c.getPorts().stream().filter(p -> portName.equals(p.getName())).findFirst().orElseThrow()
                .getContainerPort();
        String envPort = c.getEnv().stream().filter(e -> e.getName().equals("PREFECT_WORKER_WEBSERVER_PORT"))
                .findFirst().map(e -> e.getValue()).orElse(Integer.toString(imagePort));
        assertThat(containerPort).isEqualTo(imagePort).isEqualTo(Integer.parseInt(envPort));
        assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health");
        assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/ready");
        assertThat(c.getReadinessProbe().getHttpGet().getPort().getStrValue()).isEqualTo(portName);
        // the image's entry point adds --with-healthcheck to `start`: without it nothing would serve the probes
        assertThat(c.getArgs()).first().isEqualTo("start");
        assertThat(c.getArgs()).doesNotContain("--no-with-healthcheck");
        assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(deployment.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsUser())
                .isEqualTo(Long.parseLong(match(dockerfile, "(?m)^USER (\\d+):")));
    }

    @Test
    void aMisspelledFieldIsRefused() throws Exception {
        Map<String, Object> tree = yaml(dir.resolve("deployment.yaml"));
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = (Map<String, Object>) tree.get("spec");
        spec.put("replica", 2);
        assertThatThrownBy(() -> model(tree, V1Deployment.class)).hasMessageContaining("replica");
    }

    private static String match(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as(regex).isTrue();
        return m.group(1);
    }
}
