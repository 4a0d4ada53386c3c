package io.pworker.process;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.cli.RenderCli;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import io.pworker.testkit.FakePrefectServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The process plugin's preview for {@code pworker render}: what a launch starts, and the CLI that shows it. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProcessPreviewTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final RunLog QUIET = io.pworker.testkit.QuietRunLog.INSTANCE;

    @TempDir
    Path state;
    @TempDir
    Path dir;

    @Test
    void thePreviewIsTheCommandLineDirectoryAndEnvironmentTheLaunchedProcessGets() throws Exception {
        Path script = dir.resolve("report.sh");
        Files.writeString(script, """
                #!/bin/sh
                { printf '%s\\n' "$@"; echo --; pwd; echo --; env; } > "$REPORT"
                """);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        Path report = dir.resolve("report.txt");
        ObjectNode configuration = (ObjectNode) JSON.readTree(JSON.writeValueAsString(Map.of(
                "command", script + " one 'two words' \"three\"",
                "working_dir", dir.toString(),
                "env", Map.of("REPORT", report.toString(), "STAGE", "prod"),
                "stream_output", false)));
        FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, null, null, null, "p",
                UUID.randomUUID().toString(), "w", List.of());

        JsonNode preview = new ProcessPlugin().preview(new LaunchRequest(run, configuration.deepCopy(), QUIET)).orElseThrow();

        ProcessLauncher launcher = new ProcessLauncher(new PluginContext("w",
                Map.of("PATH", System.getenv("PATH"), "FROM_WORKER", "worker", "STAGE", "worker"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Clock.systemUTC(), state),
                ExitWrapper.detect());
        RunHandle handle = launcher.launch(new LaunchRequest(run, configuration, QUIET));
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        Watch watch = launcher.watch(handle, configuration, phases::add);
        try {
            Phase end;
            do {
                end = phases.poll(20, TimeUnit.SECONDS);
            } while (end != null && !end.terminal());
            assertThat(end).isInstanceOf(Phase.Exited.class);
        } finally {
            watch.close();
            launcher.release(handle, configuration);
            launcher.close();
        }
        List<String> parts = Arrays.asList(Files.readString(report).split("\n--\n", 3));
        List<String> args = parts.get(0).lines().toList();
        String workingDir = parts.get(1).strip();
        List<String> env = parts.get(2).lines().toList();

        assertThat(preview.path("program").asText()).isEqualTo(script.toString());
        assertThat(JSON.convertValue(preview.path("args"), List.class)).isEqualTo(args).containsExactly("one", "two words", "three");
        assertThat(preview.path("working_dir").asText()).isEqualTo(workingDir);
        preview.path("env").properties().forEach(e -> assertThat(env).contains(e.getKey() + "=" + e.getValue().asText()));
        assertThat(preview.path("env").path("STAGE").asText()).isEqualTo("prod");
        // the worker's own environment is under the run's, and the preview says so rather than guessing it
        assertThat(env).contains("FROM_WORKER=worker", "STAGE=prod");
        assertThat(preview.path("inherited_environment").asText()).contains("worker's own environment");
        assertThat(preview.path("output").asText()).isEqualTo("discarded");
    }

    @Test
    void withoutWorkingDirTheRunGetsATemporaryDirectory() throws Exception {
        FlowRunInfo run = new FlowRunInfo("0b1e6c2a-0000-4000-8000-000000000001", "tidy-otter", null, null, null,
                null, "p", null, "w", List.of());
        JsonNode preview = new ProcessPlugin().preview(new LaunchRequest(run,
                (ObjectNode) JSON.readTree("{\"command\": \"python -m etl\", \"name\": \"etl\"}"), QUIET)).orElseThrow();
        assertThat(preview.path("program").asText()).isEqualTo("python");
        assertThat(preview.path("working_dir").asText())
                .isEqualTo("(a new temporary directory pworker-0b1e6c2a-0000-4000-8000-000000000001-…, removed when the run is released)");
        assertThat(preview.path("output").asText()).isEqualTo("copied to the worker's console as [etl] lines");
    }

    @Test
    void renderShowsTheCommandLineBesideTheConfigurationWithSecretsMasked() throws Exception {
        try (FakePrefectServer prefect = FakePrefectServer.start()) {
            prefect.createWorkPool("local", "process", new ProcessPlugin().defaultBaseJobTemplate());
            String deployment = prefect.createDeployment(prefect.createFlow("etl"), "nightly", "local",
                    JSON.readTree("{\"command\": \"python -m etl --day 'last monday'\", \"working_dir\": \"/srv/etl\","
                            + " \"env\": {\"STAGE\": \"prod\", \"DB_PASSWORD\": \"hunter22\"}}"));
            Map<String, String> env = prefect.workerSettings("PREFECT_API_KEY", "pnu_process-key-77");

            RenderCli.Outcome o = RenderCli.run(env, "render", "--pool", "local", "--deployment", deployment);

            assertThat(o.err()).isEmpty();
            assertThat(o.code()).isZero();
            JsonNode shown = JSON.readTree(o.out());
            assertThat(shown.path("job_configuration").path("command").asText()).isEqualTo("python -m etl --day 'last monday'");
            JsonNode process = shown.path("infrastructure");
            assertThat(process.path("program").asText()).isEqualTo("python");
            assertThat(JSON.convertValue(process.path("args"), List.class)).containsExactly("-m", "etl", "--day", "last monday");
            assertThat(process.path("working_dir").asText()).isEqualTo("/srv/etl");
            assertThat(process.path("env").path("STAGE").asText()).isEqualTo("prod");
            assertThat(process.path("env").path("DB_PASSWORD").asText()).isEqualTo("********");
            assertThat(process.path("env").path("PREFECT_API_KEY").asText()).isEqualTo("********");
            assertThat(process.path("env").path("PREFECT__FLOW_RUN_ID").asText()).isEqualTo("00000000-0000-0000-0000-000000000000");
            assertThat(o.out()).doesNotContain("hunter22", "pnu_process-key-77");

            RenderCli.Outcome refused = RenderCli.run(env, "render", "--pool", "local", "--deployment", deployment,
                    "--job-variables", "{\"command\": \"python -c 'unclosed\"}");
            assertThat(refused.code()).isEqualTo(2);
            assertThat(refused.out()).isEmpty();
            assertThat(refused.err()).hasSize(1);
            assertThat(refused.err().getFirst())
                    .startsWith("Error: a worker would not launch this configuration: invalid job configuration 'command': ");
        }
    }
}
