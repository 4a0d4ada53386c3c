package io.pworker.process;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.worker.RenderParity;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code pworker render} for a process pool prints what the process plugin is handed for the same run. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProcessRenderTest {

    @Test
    void renderEqualsWhatTheProcessPluginReceives() throws Exception {
        RenderParity.Result r = RenderParity.check(new ProcessPlugin(),
                "{\"working_dir\": \"/srv/etl\", \"env\": {\"STAGE\": \"prod\"}, \"stream_output\": false}",
                "{\"command\": \"python -m etl\", \"labels\": {\"team\": \"data\"}}");
        assertThat(r.rendered()).isEqualTo(r.launched());
        assertThat(r.renderedRun()).isEqualTo(r.launchedRun());
        assertThat(r.rendered().path("working_dir").asText()).isEqualTo("/srv/etl");
        assertThat(r.rendered().path("command").asText()).isEqualTo("python -m etl");
        assertThat(r.rendered().path("env").path("STAGE").asText()).isEqualTo("prod");
    }
}
