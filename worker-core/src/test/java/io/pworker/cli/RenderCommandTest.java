package io.pworker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.worker.PluginRegistry;
import java.util.Optional;
import picocli.CommandLine;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code pworker render} through the real entry point: output, masking, and exit 2 for refused variables. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RenderCommandTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TEMPLATE = """
            {"job_configuration": {"image": "{{ image }}", "replicas": "{{ replicas }}", "env": "{{ env }}",
                                   "command": "{{ command }}"},
             "variables": {"type": "object", "required": ["image"], "properties": {
                "image": {"type": "string", "default": "etl:1"},
                "replicas": {"type": "integer", "default": 1, "minimum": 1},
                "command": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "env": {"type": "object", "additionalProperties": {"type": "string"}}}}}
            """;

    private final FakePrefectServer prefect = FakePrefectServer.start();

    @AfterEach
    void tearDown() {
        prefect.close();
    }

    private record Outcome(int code, String out, List<String> err) {
    }

    private Outcome render(String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Map<String, String> env = prefect.workerSettings("PREFECT_API_KEY", "pnu_render-key-42");
        int code = Main.execute(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8).lines().toList());
    }

    /** Render with {@code plugin} as the one installed plugin. */
    private Outcome render(InfrastructurePlugin plugin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Map<String, String> env = prefect.workerSettings("PREFECT_API_KEY", "pnu_render-key-42");
        int code = new CommandLine(new RenderCommand(env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), () -> new PluginRegistry(List.of(plugin))))
                .execute(args);
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8).lines().toList());
    }

    private String deployment() throws Exception {
        prefect.createWorkPool("pool", "docker", JSON.readTree(TEMPLATE));
        return prefect.createDeployment(prefect.createFlow("etl"), "nightly", "pool",
                JSON.readTree("{\"image\": \"etl:7\", \"env\": {\"STAGE\": \"prod\"}}"));
    }

    @Test
    void printsTheConfigurationWithTheFlagsVariablesOverTheDeploymentsAndCredentialsMasked() throws Exception {
        String deployment = deployment();
        Outcome o = render("render", "--pool", "pool", "--deployment", deployment, "--job-variables", "{\"replicas\": 3}");
        // worker-core has no docker plugin: the configuration alone, and a note that says so
        assertThat(o.err()).containsExactly("Note: no plugin for type 'docker' is installed here, so only the job "
                + "configuration is shown, not what a worker of that type would create from it");
        assertThat(o.code()).isZero();
        assertThat(JSON.readTree(o.out()).has("infrastructure")).isFalse();
        JsonNode c = JSON.readTree(o.out()).path("job_configuration");
        assertThat(c.path("image").asText()).isEqualTo("etl:7");
        assertThat(c.path("replicas").asInt()).isEqualTo(3);
        assertThat(c.path("command").asText()).isEqualTo("prefect flow-run execute");
        assertThat(c.path("env").path("STAGE").asText()).isEqualTo("prod");
        assertThat(c.path("env").path("PREFECT__WORKER_NAME").asText()).isEqualTo("pworker-render");
        assertThat(c.path("env").path("PREFECT_API_KEY").asText()).isEqualTo("********");
        assertThat(o.out()).doesNotContain("pnu_render-key-42");
    }

    @Test
    void variablesThatBreakTheSchemaAreExit2WithTheReason() throws Exception {
        String deployment = deployment();
        Outcome o = render("render", "--pool", "pool", "--deployment", deployment, "--job-variables", "{\"replicas\": 0}");
        assertThat(o.code()).isEqualTo(2);
        assertThat(o.out()).isEmpty();
        assertThat(o.err()).hasSize(1);
        assertThat(o.err().getFirst()).startsWith("Error: job variables do not match the schema of work pool 'pool'")
                .contains("replicas");
        Outcome notJson = render("render", "--pool", "pool", "--deployment", deployment, "--job-variables", "[1]");
        assertThat(notJson.code()).isEqualTo(2);
        assertThat(notJson.err()).containsExactly("Error: --job-variables must be a JSON object, e.g. '{\"image\": \"etl:2\"}'");
        Outcome missing = render("render", "--pool", "nope", "--deployment", deployment);
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).containsExactly("Error: work pool 'nope' does not exist");
    }

    @Test
    void showsThePluginsPreviewWithSecretsMaskedInEveryShapeAnEnvironmentTakes() throws Exception {
        String deployment = deployment();
        Outcome o = render(new PreviewPlugin(request -> {
            String image = request.configuration().path("image").asText();
            ObjectNode spec = (ObjectNode) JSON.readTree("""
                    {"Image": "%s",
                     "Env": ["STAGE=prod", "PREFECT_API_KEY=pnu_other-key", "DB_PASSWORD=hunter22"],
                     "containers": [{"name": "job", "env": [{"name": "PREFECT_API_KEY", "value": "pnu_other-key"},
                                                             {"name": "STAGE", "value": "prod"},
                                                             {"name": "MY_TOKEN", "secureValue": "t0ken"}]}],
                     "environment": {"github_token": "ghp_x", "STAGE": "prod"},
                     "volumes": [{"name": "creds", "secret": {"secretName": "api-secret"}}],
                     "SERVICE_TOKEN": "abc-123",
                     "kubeconfig": {"users": [{"name": "me", "user": {"token": "k8s-tok", "client-key-data": "LS0tkey"}}]},
                     "header": "Bearer pnu_render-key-42"}
                    """.formatted(image));
            request.log().warn("container_create_kwargs key 'foo' is\nignored");
            return Optional.of(spec);
        }), "--pool", "pool", "--deployment", deployment);
        assertThat(o.code()).isZero();
        assertThat(o.err()).containsExactly("Warning: container_create_kwargs key 'foo' is; ignored");
        JsonNode shown = JSON.readTree(o.out());
        assertThat(shown.path("job_configuration").path("image").asText()).isEqualTo("etl:7");
        JsonNode i = shown.path("infrastructure");
        assertThat(i.path("Image").asText()).isEqualTo("etl:7");
        assertThat(JSON.convertValue(i.path("Env"), List.class))
                .containsExactly("STAGE=prod", "PREFECT_API_KEY=********", "DB_PASSWORD=********");
        JsonNode env = i.path("containers").get(0).path("env");
        assertThat(env.get(0).path("value").asText()).isEqualTo("********");
        assertThat(env.get(1).path("value").asText()).isEqualTo("prod");
        assertThat(env.get(2).path("secureValue").asText()).isEqualTo("********");
        assertThat(i.path("environment").path("github_token").asText()).isEqualTo("********");
        assertThat(i.path("environment").path("STAGE").asText()).isEqualTo("prod");
        assertThat(i.path("volumes").get(0).path("secret").path("secretName").asText()).isEqualTo("api-secret");
        assertThat(i.path("SERVICE_TOKEN").asText()).isEqualTo("********");
        assertThat(i.at("/kubeconfig/users/0/user/token").asText()).isEqualTo("********");
        assertThat(i.at("/kubeconfig/users/0/user/client-key-data").asText()).isEqualTo("********");
        assertThat(i.at("/kubeconfig/users/0/name").asText()).isEqualTo("me");
        assertThat(i.path("header").asText()).isEqualTo("Bearer ********");
        assertThat(o.out()).doesNotContain("pnu_other-key", "hunter22", "t0ken", "ghp_x", "abc-123", "k8s-tok", "LS0tkey",
                "pnu_render-key-42");
    }

    @Test
    void aConfigurationThePluginWouldRefuseIsExit2WithItsReason() throws Exception {
        String deployment = deployment();
        Outcome o = render(new PreviewPlugin(request -> {
            throw new LaunchException("invalid job configuration 'image': '"
                    + request.configuration().path("image").asText() + "' is not\nan image");
        }), "--pool", "pool", "--deployment", deployment);
        assertThat(o.code()).isEqualTo(2);
        assertThat(o.out()).isEmpty();
        assertThat(o.err()).containsExactly(
                "Error: a worker would not launch this configuration: invalid job configuration 'image': 'etl:7' is not; an image");
    }

    @Test
    void aPluginWithNothingToShowLeavesTheConfigurationAlone() throws Exception {
        String deployment = deployment();
        Outcome o = render(new PreviewPlugin(request -> Optional.empty()), "--pool", "pool", "--deployment", deployment);
        assertThat(o.code()).isZero();
        assertThat(o.err()).isEmpty();
        JsonNode shown = JSON.readTree(o.out());
        assertThat(shown.has("infrastructure")).isFalse();
        assertThat(shown.path("job_configuration").path("image").asText()).isEqualTo("etl:7");
    }

    private interface Preview {
        Optional<ObjectNode> of(LaunchRequest request) throws Exception;
    }

    /** A docker-typed plugin whose preview is the test's; it launches nothing. */
    private record PreviewPlugin(Preview preview) implements InfrastructurePlugin {
        @Override
        public String type() {
            return "docker";
        }

        @Override
        public String workerClassName() {
            return "DockerWorker";
        }

        @Override
        public ObjectNode defaultBaseJobTemplate() {
            return JSON.createObjectNode();
        }

        @Override
        public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
            try {
                return preview.of(request);
            } catch (LaunchException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(true, true);
        }

        @Override
        public InfrastructureLauncher create(PluginContext context) {
            throw new UnsupportedOperationException("render launches nothing");
        }
    }
}
