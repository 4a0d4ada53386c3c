package io.pworker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.logging.LogFields;
import io.pworker.logging.LogFormat;
import io.pworker.logging.SecretMask;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/** {@code PWORKER_LOG_FORMAT}: JSON lines with the run and worker, credentials masked in both formats. */
class LogFormatTest {

    private static final String KEY = "pnu_Sup3rS3cretKey";
    private static final String AUTH = "admin:hunter2-pass";

    @AfterEach
    void tearDown() {
        SecretMask.set();
        LogFields.worker(null);
        MDC.clear();
    }

    private static String encode(LogFormat format, String message, Object... args) {
        // the process's context: it carries the MDC adapter the encoder reads
        LoggerContext context = (LoggerContext) org.slf4j.LoggerFactory.getILoggerFactory();
        var encoder = LogSetup.encoder(context, format);
        LoggingEvent event = new LoggingEvent("x", context.getLogger("io.pworker.worker.Worker"), Level.INFO, message,
                null, args);
        return new String(encoder.encode(event), StandardCharsets.UTF_8);
    }

    @Test
    void jsonIsOneObjectPerLineWithRunAndWorker() throws Exception {
        LogFields.worker("ProcessWorker \"a\" 1");
        MDC.put(LogFields.FLOW_RUN_ID, "0b1e6c2a-5f3d-4c1e-9a7b-2d4c6e8f0a1b");
        String line = encode(LogFormat.JSON, "Flow run {} submitted", "etl");
        assertThat(line).endsWith("\n");
        assertThat(line.strip()).doesNotContain("\n");
        JsonNode json = new ObjectMapper().readTree(line);
        assertThat(json.path("timestamp").asLong()).isPositive();
        assertThat(json.path("level").asText()).isEqualTo("INFO");
        assertThat(json.path("loggerName").asText()).isEqualTo("io.pworker.worker.Worker");
        assertThat(json.path("formattedMessage").asText()).isEqualTo("Flow run etl submitted");
        assertThat(json.path("mdc").path("flow_run_id").asText()).isEqualTo("0b1e6c2a-5f3d-4c1e-9a7b-2d4c6e8f0a1b");
        assertThat(json.path("worker_name").asText()).isEqualTo("ProcessWorker \"a\" 1");
    }

    @Test
    void credentialsAreMaskedInBothFormats() throws Exception {
        SecretMask.set(KEY, AUTH);
        String basic = java.util.Base64.getEncoder().encodeToString(AUTH.getBytes(StandardCharsets.UTF_8));
        for (LogFormat format : LogFormat.values()) {
            String line = encode(format, "calling with key {} auth {} header Basic {}", KEY, AUTH, basic);
            assertThat(line).as(format.name()).doesNotContain(KEY).doesNotContain(AUTH).doesNotContain(basic)
                    .doesNotContain("hunter2").contains(SecretMask.MASK);
        }
        // a secret inside a JSON-escaped string still goes
        SecretMask.set("quo\"te-secret");
        assertThat(encode(LogFormat.JSON, "value {}", "quo\"te-secret")).doesNotContain("te-secret");
    }

    @Test
    void anUnknownFormatIsOneLineAndExit2() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(new String[] {"start", "--pool", "p"}, Map.of("PWORKER_LOG_FORMAT", "xml",
                "PREFECT_API_URL", "http://127.0.0.1:9/api"), new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("Error: PWORKER_LOG_FORMAT must be 'text' or 'json', got 'xml'\n");
        code = Main.execute(new String[] {"start", "--pool", "p"}, Map.of("PWORKER_METRICS", "maybe"),
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).endsWith("Error: PWORKER_METRICS must be true or false, got 'maybe'\n");
    }
}
