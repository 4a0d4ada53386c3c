package io.pworker.metrics;

import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What the worker counts, as calls the core makes at the points where things happen. The default does nothing and
 * touches no metrics library, so a worker without {@code PWORKER_METRICS} loads none of Micrometer's classes; {@link
 * #enable()} swaps in {@link PrometheusMetrics}. One per process, like the worker: the hook points are deep in the
 * run lifecycle and the API client, and threading an object through all of them would touch every constructor.
 */
public class WorkerMetrics {

    private static volatile WorkerMetrics current = new WorkerMetrics();

    protected WorkerMetrics() {
    }

    /** The process's metrics; a no-op until {@link #enable()}. */
    public static WorkerMetrics get() {
        return current;
    }

    /** Turns metrics on for this process (idempotent) and returns them. */
    public static synchronized WorkerMetrics enable() {
        if (!current.enabled()) {
            current = PrometheusMetrics.create();
        }
        return current;
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

    /** What the worker can tell about itself at scrape time; replaces an earlier binding (one worker a process). */
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
