package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code pworker render} builds what the plugin receives: one code path. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JobPreviewTest {

    @Test
    void renderEqualsWhatTheStubPluginReceives() throws Exception {
        RenderParity.Result r = RenderParity.check(new StubPlugin(),
                "{\"env\": {\"STAGE\": \"prod\", \"DB_PASSWORD\": \"pw-1234\"}, \"labels\": {\"team\": \"data\"}, \"exit_code\": 4}",
                "{\"env\": {\"EXTRA\": \"x\"}, \"name\": \"{{ ctx.flow_run.name }}-job\"}");
        assertThat(r.rendered()).isEqualTo(r.launched());
        // the plugin's preview is handed the same run as its launch
        assertThat(r.renderedRun()).isEqualTo(r.launchedRun());
        assertThat(r.renderedRun().deploymentName()).isEqualTo("nightly");
        assertThat(r.rendered().path("env").path("EXTRA").asText()).isEqualTo("x");
        assertThat(r.rendered().path("exit_code").asInt()).isEqualTo(4);
        // what is shown hides credentials the worker forwards and secrets named as such
        var shown = JobPreview.mask(r.rendered());
        assertThat(shown.path("env").path("PREFECT_API_KEY").asText()).isEqualTo("********");
        assertThat(shown.path("env").path("DB_PASSWORD").asText()).isEqualTo("********");
        assertThat(shown.toString()).doesNotContain("pnu_parity-key-123").doesNotContain("pw-1234");
        assertThat(shown.path("env").path("STAGE").asText()).isEqualTo("prod");
    }
}
