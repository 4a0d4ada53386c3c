package io.pworker.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import io.pworker.testkit.PrefectTemplates;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The docker type's rules that need no engine: template shape, configuration parsing, names and labels. */
class DockerJobConfigurationTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static DockerJobConfiguration parse(String json) throws Exception {
        return DockerJobConfiguration.from((ObjectNode) JSON.readTree(json), "default/image:1");
    }

    @Test
    void defaultTemplateHasTheShapeOfPrefectsDockerTemplate() {
        assertThat(PrefectTemplates.structuralDifferences(new DockerPlugin().defaultBaseJobTemplate(),
                PrefectTemplates.prefectDefault("docker"))).isEmpty();
        assertThat(new DockerPlugin().defaultBaseJobTemplate().at("/variables/properties/image/description").asText())
                .isNotEqualTo(PrefectTemplates.prefectDefault("docker").at("/variables/properties/image/description").asText());
    }

    @ParameterizedTest(name = "pull policy of {0} set to ''{1}'' is {2}")
    @CsvSource({
            "repo/flows,, Always",
            "repo/flows:latest,, Always",
            "repo/flows:1.2,, IfNotPresent",
            "localhost:5000/flows,, Always",
            "localhost:5000/flows:7,, IfNotPresent",
            "repo/flows@sha256:abc,, IfNotPresent",
            "repo/flows:latest, Never, Never",
            "repo/flows:1, Always, Always",
            "repo/flows:1, IfPossible, IfPossible"})
    void pullPolicyFollowsPrefectsRuleWhenUnset(String image, String policy, String expected) throws Exception {
        ObjectNode c = JSON.createObjectNode().put("image", image);
        if (policy != null) {
            c.put("image_pull_policy", policy);
        }
        assertThat(DockerJobConfiguration.from(c, "x").effectivePullPolicy()).isEqualTo(expected);
    }

    @ParameterizedTest(name = "image {0} pulls {1} at {2}")
    @CsvSource({
            "busybox, busybox, latest",
            "busybox:1.36, busybox, 1.36",
            "localhost:5000/a/b, localhost:5000/a/b, latest",
            "localhost:5000/a/b:2, localhost:5000/a/b, 2",
            "repo/x@sha256:0f, repo/x, sha256:0f"})
    void imageNamesSplitIntoRepositoryAndReference(String image, String repository, String reference) {
        assertThat(ImageName.parse(image).repository()).isEqualTo(repository);
        assertThat(ImageName.parse(image).reference()).isEqualTo(reference);
    }

    @ParameterizedTest(name = "mem_limit ''{0}'' is {1} bytes")
    @CsvSource({"100000b, 100000", "1000k, 1024000", "128m, 134217728", "1g, 1073741824", "512, 512", "2G, 2147483648",
            "-1, -1"})
    void memoryStringsFollowDockerPy(String text, long bytes) throws Exception {
        assertThat(parse("{\"mem_limit\": \"" + text + "\"}").memLimit()).isEqualTo(bytes);
    }

    @Test
    void unsetValuesGetTheTemplatesDefaults() throws Exception {
        DockerJobConfiguration c = parse("{\"image\": null, \"command\": null, \"mem_limit\": \"\", \"networks\": null}");
        assertThat(c.image()).isEqualTo("default/image:1");
        assertThat(c.command()).containsExactly("prefect", "flow-run", "execute");
        assertThat(c.memLimit()).isNull();
        assertThat(c.networks()).isEmpty();
        assertThat(c.streamOutput()).isTrue();
        assertThat(c.autoRemove()).isFalse();
    }

    @Test
    void commandsAreSplitLikeAShellWouldWithoutRunningOne() throws Exception {
        assertThat(parse("{\"command\": \"python -m 'my flows.main' --x=\\\"a b\\\"\"}").command())
                .containsExactly("python", "-m", "my flows.main", "--x=a b");
        assertThat(parse("{\"command\": [\"a\", \"b c\"]}").command()).containsExactly("a", "b c");
    }

    @Test
    void badValuesNameTheKeyAndTheRule() {
        assertThatThrownBy(() -> parse("{\"image_pull_policy\": \"Sometimes\"}")).isInstanceOf(LaunchException.class)
                .hasMessageContaining("'image_pull_policy'").hasMessageContaining("Sometimes");
        assertThatThrownBy(() -> parse("{\"mem_limit\": \"lots\"}")).isInstanceOf(LaunchException.class)
                .hasMessageContaining("'mem_limit'").hasMessageContaining("128m");
        assertThatThrownBy(() -> parse("{\"volumes\": \"/a:/b\"}")).isInstanceOf(LaunchException.class)
                .hasMessageContaining("'volumes'");
        assertThatThrownBy(() -> parse("{\"privileged\": \"yes\"}")).isInstanceOf(LaunchException.class)
                .hasMessageContaining("'privileged'");
        assertThatThrownBy(() -> parse("{\"command\": \"echo 'unclosed\"}")).isInstanceOf(LaunchException.class)
                .hasMessageContaining("'command'");
        assertThatThrownBy(() -> parse("{\"registry_credentials\": {\"username\": \"u\"}}"))
                .isInstanceOf(LaunchException.class).hasMessageContaining("'registry_credentials'");
    }

    @Test
    void registryPasswordsNeverShowInTheConfigurationsText() throws Exception {
        DockerJobConfiguration c = parse("{\"registry_credentials\": {\"username\": \"robot\", \"password\": \"s3cr3t-pw\","
                + " \"registry_url\": \"registry.example.com\", \"reauth\": true}}");
        assertThat(c.registryCredentials().password()).isEqualTo("s3cr3t-pw");
        assertThat(c.toString()).doesNotContain("s3cr3t-pw").contains("robot");
    }

    @ParameterizedTest(name = "label {0} becomes {1}")
    @CsvSource({"prefect.io/flow-run-id, io.prefect.flow-run-id", "prefect.io/version, io.prefect.version",
            "com.example.team/owner, team.example.com.owner", "plain, plain"})
    void labelsTakeDockersReverseDomainForm(String key, String docker) {
        assertThat(ContainerSpec.dockerLabel(key)).isEqualTo(docker);
    }

    @ParameterizedTest(name = "run name ''{0}'' names the container ''{1}''")
    @CsvSource({"tidy-otter, tidy-otter", "My Run #1, My-Run-1", "__hidden.run, hidden.run", "'é', ''", "a/b:c, a-b-c"})
    void containerNamesKeepCaseAndDockersAlphabet(String name, String expected) {
        assertThat(ContainerSpec.containerName(name)).isEqualTo(expected);
    }

    @Test
    void containerNamesAreCutAt250Characters() {
        assertThat(ContainerSpec.containerName("x".repeat(300))).hasSize(250);
    }

    @ParameterizedTest(name = "DOCKER_HOST {0} gives infrastructure ids starting {2}")
    @CsvSource({"unix:///var/run/docker.sock, false, http+docker://localhost",
            "tcp://10.1.2.3:2375, false, http://10.1.2.3:2375",
            "tcp://docker.internal:2376, true, https://docker.internal:2376"})
    void infrastructurePidsUsePrefectsBaseUrlForm(String host, boolean tls, String base) {
        assertThat(DockerConnection.baseUrl(URI.create(host), tls)).isEqualTo(base);
    }
}
