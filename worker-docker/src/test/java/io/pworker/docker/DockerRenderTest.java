package io.pworker.docker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.worker.RenderParity;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code pworker render} for a docker pool prints what the docker plugin is handed for the same run. No engine is
 * needed: the recorded launcher stands where the plugin's would.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DockerRenderTest {

    @Test
    void renderEqualsWhatTheDockerPluginReceives() throws Exception {
        RenderParity.Result r = RenderParity.check(new DockerPlugin(),
                "{\"image\": \"etl:7\", \"volumes\": [\"/data:/data\"], \"env\": {\"STAGE\": \"prod\"}}",
                "{\"image_pull_policy\": \"Never\", \"mem_limit\": \"512m\"}");
        assertThat(r.rendered()).isEqualTo(r.launched());
        assertThat(r.renderedRun()).isEqualTo(r.launchedRun());
        assertThat(r.rendered().path("image").asText()).isEqualTo("etl:7");
        assertThat(r.rendered().path("image_pull_policy").asText()).isEqualTo("Never");
        assertThat(r.rendered().path("volumes").get(0).asText()).isEqualTo("/data:/data");
    }
}
