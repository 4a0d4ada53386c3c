package io.pworker.metrics;

import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What the worker counts, as calls the core makes at the points where things happen. {@link #none()} does nothing
 * and touches no metrics library, so a worker without {@code PWORKER_METRICS} loads none of Micrometer's classes;
 * {@link #prometheus()} keeps them in {@link PrometheusMetrics}. The worker's composition root ({@code pworker
 * start}) makes one and hands it to what records (the API client, the run supervisors) and to the health server's
 * {@code /metrics}.
 */
public class WorkerMetrics {

    private static final WorkerMetrics NONE = new WorkerMetrics();

    protected WorkerMetrics() {
    }

    /** Metrics off: every call does nothing, {@link #scrape()} is empty. Stateless, so one serves everyone. */
    public static WorkerMetrics none() {
        return NONE;
    }

    /** A fresh Prometheus registry with the worker's meters and the JVM's. */
    public static WorkerMetrics prometheus() {
        return PrometheusMetrics.create();
    }

    public boolean enabled() {
        return false;
    }

    /** The worker won the PENDING proposal for a run. */
    public void runClaimed(String type) {
    }

    /** The plugin's launch returned a handle. */
    public void runLaunched(String type) {
    }

    /** A run's end was reported; {@code outcome} is completed, crashed or cancelled. */
    public void runFinished(String type, String outcome) {
    }

    /** Nothing was started for a run; {@code cause} is a short fixed word (configuration, launch, api, state). */
    public void submissionFailed(String type, String cause) {
    }

    /** One HTTP exchange with the Prefect API; {@code status} 0 when no answer came. */
    public void apiRequest(String method, String path, int status, long nanos) {
    }

    /** What the worker can tell about itself at scrape time; replaces an earlier binding. */
    public void bind(WorkerGauges gauges) {
    }

    /** The Prometheus text exposition, or empty when metrics are off. */
    public String scrape() {
        return "";
    }

    /**
     * Live values read at each scrape.
     *
     * @param freeSlots null without {@code --limit}
     * @param lastPolled when a poll last got an answer
     * @param eventSocketConnected true while the {@code /events/out} subscription is open
     */
    public record WorkerGauges(String type, Supplier<Integer> inFlight, Supplier<Integer> freeSlots,
            Supplier<java.time.Instant> lastPolled, BooleanSupplier eventSocketConnected, java.time.Clock clock) {
    }
}
