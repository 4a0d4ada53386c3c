package io.pworker.cloudrun;

import static io.pworker.cloudrun.CloudRunFixture.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.util.JsonFormat;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.RunHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The Cloud Run plugin's preview for {@code pworker render} is the create call a launch makes. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CloudRunPreviewTest {

    private static final ServiceAccountKey KEY = ServiceAccountKey.generate();

    @TempDir
    Path dir;

    @Test
    void thePreviewedCreateCallIsTheOneTheLaunchMakes() throws Exception {
        try (FakeCloudRun fake = FakeCloudRun.start(new InMemoryRunner(), KEY.keys().getPublic())) {
            FlowRunInfo run = CloudRunFixture.run();
            ObjectNode config = CloudRunFixture.configuration(run, CloudRunFixture.credentials(KEY, fake),
                    "{\"env\": {\"STAGE\": \"prod\"}, \"region\": \"europe-west1\", \"keep_job\": true}");
            CloudRunFixture.Lines previewLog = new CloudRunFixture.Lines();

            JsonNode preview = new CloudRunPlugin().preview(new LaunchRequest(run, config.deepCopy(), previewLog))
                    .orElseThrow();

            CloudRunLauncher launcher = new CloudRunLauncher(CloudRunFixture.context(Map.of(), dir),
                    CloudRunFixture.settings(fake));
            RunHandle handle;
            try {
                handle = launcher.launch(new LaunchRequest(run, config, new CloudRunFixture.Lines()));
            } finally {
                launcher.close();
            }
            assertThat(fake.createdBodies()).hasSize(1);
            JsonNode sent = JSON.readTree(JsonFormat.printer().print(fake.createdBodies().getFirst()));
            assertThat(preview.at("/create_job/job")).isEqualTo(sent);
            assertThat(preview.at("/create_job/parent").asText())
                    .isEqualTo("projects/" + ServiceAccountKey.PROJECT + "/locations/europe-west1");
            assertThat(preview.at("/create_job/jobId").asText()).isEqualTo(handle.infrastructurePid());
            assertThat(fake.requests()).anyMatch(r -> r.startsWith("POST ")
                    && r.contains("projects/" + ServiceAccountKey.PROJECT + "/locations/europe-west1/jobs"));
            assertThat(preview.path("job_ids_if_taken")).hasSize(2);
            assertThat(preview.path("keep_job").asBoolean()).isTrue();
            assertThat(preview.at("/create_job/job/template/template/containers/0/env").findValuesAsText("name"))
                    .containsExactly("STAGE");
            assertThat(previewLog.all()).doesNotContain(KEY.secretPart());
        }
    }

    @Test
    void withoutAProjectInTheBlockThePreviewSaysWhereItWouldComeFrom() throws Exception {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode credentials = JSON.createObjectNode().putNull("service_account_info").putNull("project");
        JsonNode preview = new CloudRunPlugin().preview(new LaunchRequest(run,
                CloudRunFixture.configuration(run, credentials, "{}"), new CloudRunFixture.Lines())).orElseThrow();
        assertThat(preview.at("/create_job/parent").asText())
                .isEqualTo("projects/{the project of the worker's Google credentials}/locations/us-central1");
    }

    @Test
    void aJobBodyCloudRunWouldRefuseIsRefusedWithTheLaunchsMessage() {
        FlowRunInfo run = CloudRunFixture.run();
        ObjectNode config = CloudRunFixture.configuration(run, JSON.createObjectNode(), "{\"job_body\": {\"template\": {}}}");
        assertThatThrownBy(() -> new CloudRunPlugin().preview(new LaunchRequest(run, config, new CloudRunFixture.Lines())))
                .isInstanceOf(LaunchException.class).hasMessageStartingWith("invalid job configuration 'job_body'");
    }
}
