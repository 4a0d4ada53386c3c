package io.pworker.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Metrics are objects: off records and serves nothing, and two workers' metrics do not mix. */
class WorkerMetricsObjectsTest {

    @Test
    void offRecordsNothingAndServesNothing() {
        WorkerMetrics off = WorkerMetrics.none();
        off.runClaimed("process");
        assertThat(off.enabled()).isFalse();
        assertThat(off.scrape()).isEmpty();
    }

    @Test
    void eachWorkersMetricsCountOnlyItsOwnRuns() {
        WorkerMetrics first = WorkerMetrics.prometheus();
        WorkerMetrics second = WorkerMetrics.prometheus();
        first.runClaimed("process");
        first.runClaimed("process");
        second.runClaimed("process");
        second.apiRequest("GET", "/work_pools/p", 200, 1_000_000);
        assertThat(PrometheusText.parse(first.scrape()).value("pworker_runs_claimed_total", "type", "process")).isEqualTo(2);
        assertThat(PrometheusText.parse(second.scrape()).value("pworker_runs_claimed_total", "type", "process")).isEqualTo(1);
        assertThat(PrometheusText.parse(first.scrape()).has("pworker_api_requests_seconds_count")).isFalse();
    }
}
