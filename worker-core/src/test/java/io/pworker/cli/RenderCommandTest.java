package io.pworker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.testkit.FakePrefectServer;
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

    private String deployment() throws Exception {
        prefect.createWorkPool("pool", "docker", JSON.readTree(TEMPLATE));
        return prefect.createDeployment(prefect.createFlow("etl"), "nightly", "pool",
                JSON.readTree("{\"image\": \"etl:7\", \"env\": {\"STAGE\": \"prod\"}}"));
    }

    @Test
    void printsTheConfigurationWithTheFlagsVariablesOverTheDeploymentsAndCredentialsMasked() throws Exception {
        String deployment = deployment();
        Outcome o = render("render", "--pool", "pool", "--deployment", deployment, "--job-variables", "{\"replicas\": 3}");
        assertThat(o.err()).isEmpty();
        assertThat(o.code()).isZero();
        JsonNode c = JSON.readTree(o.out());
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
}
