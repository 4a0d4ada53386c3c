package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.Deployment;
import io.pworker.api.Flow;
import io.pworker.api.FlowRun;
import io.pworker.spi.FlowRunInfo;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class JobPreparationTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FlowRunInfo RUN = new FlowRunInfo("run-1", "warm-scorpion", "flow-1", "etl", "dep-1", "nightly",
            "pool", "pool-1", "w1", List.of());

    private static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    @Test
    void envLayersWorkerSettingsThenPrefectVariablesThenJobVariables() throws Exception {
        ObjectNode config = (ObjectNode) json("{\"env\":{\"PREFECT_API_KEY\":null,\"DEBUG\":true,\"N\":2,\"PREFECT_LOGGING_LEVEL\":\"DEBUG\"}}");
        JobPreparation.prepare(config, RUN, Map.of("PREFECT_API_URL", "http://x/api", "PREFECT_API_KEY", "secret",
                "PREFECT_LOGGING_LEVEL", "INFO"), null, null, FlowRun.from(json("{}")), "3.4.25");
        JsonNode env = config.get("env");
        assertThat(env.has("PREFECT_API_KEY")).as("a null job variable removes an inherited one").isFalse();
        assertThat(env.get("PREFECT_API_URL").asText()).isEqualTo("http://x/api");
        assertThat(env.get("PREFECT_LOGGING_LEVEL").asText()).isEqualTo("DEBUG");
        assertThat(env.get("PREFECT__FLOW_RUN_ID").asText()).isEqualTo("run-1");
        assertThat(env.get("PREFECT__DEPLOYMENT_NAME").asText()).isEqualTo("nightly");
        assertThat(env.get("DEBUG").asText()).as("Python's str(True)").isEqualTo("True");
        assertThat(env.get("N").asText()).isEqualTo("2");
    }

    @Test
    void labelsNameAndDefaultCommand() throws Exception {
        ObjectNode config = (ObjectNode) json("{\"labels\":{\"team\":\"data\",\"prefect.io/flow-name\":\"override\"},"
                + "\"name\":\"{{ ctx.flow.name }}-{{ ctx.flow_run.name }}\",\"command\":null}");
        JobPreparation.prepare(config, RUN, Map.of(), Deployment.from(json("{\"updated\":\"2026-08-20T10:11:12.123456Z\"}")),
                Flow.from(json("{\"name\":\"etl\"}")), FlowRun.from(json("{\"name\":\"warm-scorpion\"}")), "3.4.25");
        assertThat(config.get("labels").get("prefect.io/flow-run-id").asText()).isEqualTo("run-1");
        assertThat(config.get("labels").get("prefect.io/work-pool-id").asText()).isEqualTo("pool-1");
        assertThat(config.get("labels").get("prefect.io/deployment-updated").asText()).isEqualTo("2026-08-20T10:11:12.123456Z");
        assertThat(config.get("labels").get("prefect.io/flow-name").asText()).as("user labels win").isEqualTo("override");
        assertThat(config.get("labels").get("team").asText()).isEqualTo("data");
        assertThat(config.get("name").asText()).isEqualTo("etl-warm-scorpion");
        assertThat(config.get("command").asText()).isEqualTo("prefect flow-run execute");
    }

    @Test
    void nameDefaultsToTheFlowRunName() throws Exception {
        ObjectNode config = (ObjectNode) json("{\"command\":\"python -m flows\"}");
        JobPreparation.prepare(config, RUN, Map.of(), null, null, FlowRun.from(json("{}")), "3.4.25");
        assertThat(config.get("name").asText()).isEqualTo("warm-scorpion");
        assertThat(config.get("command").asText()).isEqualTo("python -m flows");
    }

    @Test
    void jitterStaysWithinPrefectsClamp() {
        for (int i = 0; i < 2000; i++) {
            Duration d = Jitter.around(Duration.ofSeconds(10));
            assertThat(d).isBetween(Duration.ofMillis(7400), Duration.ofMillis(13_001));
        }
    }

    @Test
    void slugLikePythonSlugify() {
        assertThat(Slug.of("ProcessWorker 6c9f-AB")).isEqualTo("processworker-6c9f-ab");
        assertThat(Slug.of("  Émile's worker!! ")).isEqualTo("emile-s-worker");
    }
}
