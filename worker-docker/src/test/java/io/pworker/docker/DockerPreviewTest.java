package io.pworker.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.cli.RenderCli;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.testkit.FakePrefectServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The docker plugin's preview for {@code pworker render}: the create call it shows is the one a launch sends the
 * engine (read off the wire through a proxy), and the CLI shows it with secrets masked.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DockerPreviewTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final class Recorded implements RunLog {
        final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public void info(String message) {
        }

        @Override
        public void warn(String message) {
            lines.add(message);
        }

        @Override
        public void error(String message, Throwable cause) {
            lines.add(message);
        }
    }

    @Test
    void thePreviewedCreateCallIsTheOneTheLaunchSendsTheEngine() throws Exception {
        DockerTestEngine engine = DockerTestEngine.get();
        String runId = UUID.randomUUID().toString();
        String name = "preview-otter-" + runId.substring(0, 8);
        ObjectNode configuration = (ObjectNode) JSON.readTree("""
                {"image": "%s", "image_pull_policy": "Never", "command": "sh -c 'exit 0'",
                 "env": {"STAGE": "prod", "PREFECT_API_URL": "http://127.0.0.1:4200/api", "PREFECT_API_KEY": "pnu_k"},
                 "labels": {"prefect.io/flow-run-id": "%s", "prefect.io/version": "3.4.25", "team": "data"},
                 "name": "%s", "networks": [], "network_mode": null, "auto_remove": true,
                 "volumes": ["/tmp:/data:ro"], "stream_output": false, "mem_limit": "64m", "memswap_limit": null,
                 "privileged": false, "registry_credentials": null,
                 "container_create_kwargs": {"user": "1000", "working_dir": "/data", "cpu_shares": 512, "tty": true}}
                """.formatted(DockerTestEngine.IMAGE, runId, name));
        FlowRunInfo run = new FlowRunInfo(runId, "tidy-otter", null, "etl", null, null, "pool", null, "w", List.of());
        Recorded previewLog = new Recorded();
        Recorded launchLog = new Recorded();

        JsonNode preview = new DockerPlugin().preview(new LaunchRequest(run, configuration.deepCopy(), previewLog))
                .orElseThrow();

        try (SocketProxy proxy = SocketProxy.toUnixSocket(Path.of(engine.host().substring("unix://".length())));
                DockerLauncher launcher = DockerLauncher.connect(new PluginContext("w",
                        Map.of("DOCKER_HOST", "tcp://127.0.0.1:" + proxy.port()),
                        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Clock.systemUTC(),
                        Path.of(System.getProperty("java.io.tmpdir"))))) {
            RunHandle handle = launcher.launch(new LaunchRequest(run, configuration, launchLog));
            try {
                List<SocketProxy.Request> creates = proxy.requestBodies("/containers/create");
                assertThat(creates).hasSize(1);
                SocketProxy.Request sent = creates.getFirst();
                String previewed = preview.path("create").path("request").asText();
                assertThat(previewed).isEqualTo("POST /containers/create?name=" + name);
                // docker-java puts the API version in front of the path
                assertThat(sent.line()).startsWith("POST /").contains(previewed.substring("POST ".length()) + " HTTP/1.1");
                // docker-java sends unset fields as null; the preview leaves them out
                assertThat(preview.path("create").path("body"))
                        .isEqualTo(ContainerSpec.withoutNulls(JSON.readTree(sent.body())));
                assertThat(JSON.readTree(sent.body()).path("Hostname").isNull()).isTrue();
            } finally {
                engine.client().removeContainerCmd(handle.state().get("container_id")).withForce(true).exec();
                launcher.release(handle, configuration);
            }
        }
        JsonNode body = preview.path("create").path("body");
        assertThat(body.path("Image").asText()).isEqualTo(DockerTestEngine.IMAGE);
        assertThat(JSON.convertValue(body.path("Cmd"), List.class)).containsExactly("sh", "-c", "exit 0");
        assertThat(JSON.convertValue(body.path("Env"), List.class)).contains("STAGE=prod", "PREFECT_API_KEY=pnu_k");
        assertThat(body.path("Labels").path("io.prefect.flow-run-id").asText()).isEqualTo(runId);
        assertThat(body.path("User").asText()).isEqualTo("1000");
        assertThat(body.path("HostConfig").path("Memory").asLong()).isEqualTo(64L * 1024 * 1024);
        assertThat(body.path("HostConfig").path("NetworkMode").asText()).isEqualTo("host");
        assertThat(body.path("HostConfig").path("AutoRemove").asBoolean()).isFalse();
        assertThat(preview.path("image").path("pull_policy").asText()).isEqualTo("Never");
        assertThat(preview.path("remove_after_run").asBoolean()).isTrue();
        // the same remarks as the launch makes, from the same code
        assertThat(previewLog.lines).isEqualTo(launchLog.lines)
                .containsExactly("container_create_kwargs key 'tty' is not supported by pworker and is ignored");
    }

    @Test
    void renderShowsTheCreateCallBesideTheConfigurationWithSecretsMasked() throws Exception {
        try (FakePrefectServer prefect = FakePrefectServer.start()) {
            prefect.createWorkPool("containers", "docker", new DockerPlugin().defaultBaseJobTemplate());
            String deployment = prefect.createDeployment(prefect.createFlow("etl"), "nightly", "containers",
                    JSON.readTree("{\"image\": \"etl:7\", \"env\": {\"STAGE\": \"prod\", \"DB_PASSWORD\": \"hunter22\"},"
                            + " \"volumes\": [\"/srv/data:/data\"]}"));
            Map<String, String> env = prefect.workerSettings("PREFECT_API_KEY", "pnu_docker-key-88");

            RenderCli.Outcome o = RenderCli.run(env, "render", "--pool", "containers", "--deployment", deployment,
                    "--job-variables", "{\"mem_limit\": \"512m\"}");

            assertThat(o.err()).isEmpty();
            assertThat(o.code()).isZero();
            JsonNode shown = JSON.readTree(o.out());
            assertThat(shown.path("job_configuration").path("image").asText()).isEqualTo("etl:7");
            JsonNode create = shown.path("infrastructure").path("create");
            assertThat(create.path("request").asText()).isEqualTo("POST /containers/create?name=pworker-render-preview");
            JsonNode body = create.path("body");
            assertThat(body.path("Image").asText()).isEqualTo("etl:7");
            assertThat(JSON.convertValue(body.path("Cmd"), List.class)).containsExactly("prefect", "flow-run", "execute");
            assertThat(JSON.convertValue(body.path("Env"), List.class)).contains("STAGE=prod", "DB_PASSWORD=********",
                    "PREFECT_API_KEY=********", "PREFECT__FLOW_RUN_ID=00000000-0000-0000-0000-000000000000");
            assertThat(body.path("Labels").path("io.prefect.flow-run-id").asText()).isEqualTo("00000000-0000-0000-0000-000000000000");
            assertThat(body.path("HostConfig").path("Memory").asLong()).isEqualTo(512L * 1024 * 1024);
            assertThat(JSON.convertValue(body.path("HostConfig").path("Binds"), List.class)).containsExactly("/srv/data:/data:rw");
            assertThat(o.out()).doesNotContain("hunter22", "pnu_docker-key-88");

            RenderCli.Outcome refused = RenderCli.run(env, "render", "--pool", "containers", "--deployment", deployment,
                    "--job-variables", "{\"mem_limit\": \"lots\"}");
            assertThat(refused.code()).isEqualTo(2);
            assertThat(refused.out()).isEmpty();
            assertThat(refused.err()).hasSize(1);
            assertThat(refused.err().getFirst())
                    .startsWith("Error: a worker would not launch this configuration: invalid job configuration 'mem_limit'");
        }
    }
}
