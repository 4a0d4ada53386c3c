package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.metrics.PrometheusText;
import io.pworker.metrics.WorkerMetrics;
import io.pworker.spi.Phase;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code /metrics} against the Prefect fake: it parses as Prometheus text, and the run counters move when runs are
 * claimed, complete, crash, fail to submit and are cancelled. The checks compare values before and after, since
 * the worker's own start-up (pool sync, first poll) counts too.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WorkerMetricsTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private final CoreHarness h = new CoreHarness(new StubPlugin());

    @AfterEach
    void tearDown() {
        h.close();
    }

    private static String get(Worker w, String path) throws Exception {
        try (HttpClient c = HttpClient.newHttpClient()) {
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + w.healthPort() + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain; version=0.0.4");
            return r.body();
        }
    }

    private static double inFlight(Worker w) {
        try {
            return PrometheusText.parse(get(w, "/metrics")).value("pworker_runs_in_flight");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static double finished(PrometheusText m, String outcome) {
        return m.value("pworker_runs_finished_total", "type", "stub", "outcome", outcome);
    }

    @Test
    void countersMoveAsRunsAreClaimedCrashAndAreCancelled() throws Exception {
        // the state directory in the environment (where the worker reads PWORKER_*), so that no run is recorded in ~/.prefect
        Worker w = Worker.create(io.pworker.settings.Settings.from(h.settings("PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1",
                        "PREFECT_WORKER_WEBSERVER_PORT", "0")),
                WorkerOptions.of("pool", "stub").withName("m1").withHealthcheck(true).withLimit(5),
                new PluginRegistry(java.util.List.of(h.stub)),
                java.util.Map.of("PWORKER_STATE_DIR", h.prefect.stateDirectory().toString()),
                new java.io.PrintStream(new java.io.ByteArrayOutputStream()), java.time.Clock.systemUTC(),
                WorkerMetrics.prometheus());
        try {
            w.start();
            check(w);
        } finally {
            w.stop();
        }
    }

    private void check(Worker w) throws Exception {
        PrometheusText before = PrometheusText.parse(get(w, "/metrics"));

        String completes = h.prefect.createFlowRun(h.deployment("{}"), "{}");
        String crashes = h.prefect.createFlowRun(h.deployment("{\"exit_code\": 3}"), "{}");
        String refused = h.prefect.createFlowRun(h.deployment("{\"fail_launch\": \"no such image\"}"), "{}");
        String held = h.prefect.createFlowRun(h.deployment("{\"hold\": true}"), "{}");
        await(WAIT, () -> h.prefect.stateType(crashes).equals("CRASHED"), "crashed");
        await(WAIT, () -> h.prefect.stateType(refused).equals("CRASHED"), "submission failed");
        await(WAIT, () -> !h.pid(held).isEmpty(), "held run launched");
        // the other three runs leave the worker's hands a moment after their states are written
        await(WAIT, () -> inFlight(w) == 1, "only the held run in flight");
        PrometheusText running = PrometheusText.parse(get(w, "/metrics"));
        assertThat(running.value("pworker_runs_in_flight")).isEqualTo(1);
        assertThat(running.value("pworker_slots_free")).isEqualTo(4);

        h.prefect.setFlowRunState(held, "CANCELLING", "Cancelling");
        await(WAIT, () -> h.prefect.stateType(held).equals("CANCELLED"), "cancelled");
        await(WAIT, () -> h.stub.pidOf(completes).isPresent() && h.stub.released.size() >= 3, "all released");

        PrometheusText after = PrometheusText.parse(get(w, "/metrics"));
        assertThat(after.value("pworker_runs_claimed_total", "type", "stub")
                - before.value("pworker_runs_claimed_total", "type", "stub")).isEqualTo(4);
        assertThat(after.value("pworker_runs_launched_total", "type", "stub")
                - before.value("pworker_runs_launched_total", "type", "stub")).isEqualTo(3);
        assertThat(finished(after, "completed") - finished(before, "completed")).isEqualTo(1);
        assertThat(finished(after, "crashed") - finished(before, "crashed")).isEqualTo(2);
        assertThat(finished(after, "cancelled") - finished(before, "cancelled")).isEqualTo(1);
        assertThat(after.value("pworker_submission_failures_total", "type", "stub", "cause", "launch")
                - before.value("pworker_submission_failures_total", "type", "stub", "cause", "launch")).isEqualTo(1);
        assertThat(after.value("pworker_runs_in_flight")).isZero();
        assertThat(after.value("pworker_slots_free")).isEqualTo(5);

        // API calls by route, not by id, with latency buckets
        assertThat(after.value("pworker_api_requests_seconds_count", "method", "POST",
                "route", "/flow_runs/{id}/set_state", "status", "201")).isGreaterThanOrEqualTo(4);
        assertThat(after.samples()).noneMatch(s -> s.labels().getOrDefault("route", "").contains(held));
        assertThat(after.value("pworker_api_requests_seconds_bucket", "route", "/work_pools/{name}/get_scheduled_flow_runs",
                "le", "+Inf")).isPositive();
        assertThat(after.value("pworker_last_poll_age_seconds")).isBetween(0.0, 30.0);
        assertThat(after.has("pworker_event_socket_connected")).isTrue();
        assertThat(after.value("jvm_memory_used_bytes", "area", "heap")).isPositive();
        assertThat(after.value("jvm_threads_live_threads")).isPositive();
        h.stub.set(h.pid(held), Phase.Exited.of(0));

        // every series the shipped Grafana dashboard queries is one the worker serves
        String dashboard = java.nio.file.Files.readString(java.nio.file.Path.of("../deploy/grafana/pworker.json"));
        java.util.regex.Matcher names = java.util.regex.Pattern.compile("\\b((?:pworker|jvm)_[a-z_]+)").matcher(dashboard);
        while (names.find()) {
            assertThat(after.has(names.group(1))).as(names.group(1) + " in /metrics").isTrue();
        }
    }
}
