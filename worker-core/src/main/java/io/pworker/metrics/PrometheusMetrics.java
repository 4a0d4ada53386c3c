package io.pworker.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@link WorkerMetrics} kept in Micrometer's Prometheus registry. Meter names follow Prometheus' conventions once
 * the registry has rendered them: {@code pworker.runs.claimed} becomes {@code pworker_runs_claimed_total}.
 */
final class PrometheusMetrics extends WorkerMetrics {

    /**
     * Latency buckets for API calls: a handful, from a fast local server to a slow Cloud answer. Micrometer's
     * percentile histogram would give each route and status some 70 buckets.
     */
    private static final Duration[] BUCKETS = {Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10)};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicReference<WorkerGauges> bound = new AtomicReference<>();

    private PrometheusMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        // gauges read whatever the worker bound, once its runs and slots exist
        Gauge.builder("pworker.runs.in.flight", () -> read(g -> g.inFlight().get()))
                .description("Flow runs this worker supervises now").register(registry);
        Gauge.builder("pworker.slots.free", () -> read(g -> g.freeSlots().get()))
                .description("Free --limit slots (NaN without --limit)").register(registry);
        Gauge.builder("pworker.last.poll.age", () -> read(g -> Duration.between(g.lastPolled().get(),
                        g.clock().instant()).toMillis() / 1000.0))
                .description("Seconds since a poll last got an answer from the Prefect API").baseUnit("seconds")
                .register(registry);
        Gauge.builder("pworker.event.socket.connected", () -> read(g -> g.eventSocketConnected().getAsBoolean() ? 1 : 0))
                .tags("socket", "/events/out")
                .description("1 while the cancellation event subscription is open, 0 while runs are polled instead")
                .register(registry);
    }

    /**
     * Typed as the base class on purpose: the verifier of {@link WorkerMetrics#prometheus()} then has no reason to load
     * this class, nor Micrometer's behind it, in a worker that never turns metrics on.
     */
    static WorkerMetrics create() {
        return new PrometheusMetrics();
    }

    private Number read(java.util.function.Function<WorkerGauges, Number> value) {
        WorkerGauges g = bound.get();
        if (g == null) {
            return Double.NaN;
        }
        Number n = value.apply(g);
        return n == null ? Double.NaN : n;
    }

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public void runClaimed(String type) {
        counter("pworker.runs.claimed", "Flow runs this worker claimed (won the PENDING proposal)", Tags.of("type", type));
    }

    @Override
    public void runLaunched(String type) {
        counter("pworker.runs.launched", "Flow runs whose infrastructure was started", Tags.of("type", type));
    }

    @Override
    public void runFinished(String type, String outcome) {
        counter("pworker.runs.finished", "Flow runs whose end the worker reported, by outcome",
                Tags.of("type", type, "outcome", outcome));
    }

    @Override
    public void submissionFailed(String type, String cause) {
        counter("pworker.submission.failures", "Flow runs that could not be submitted to infrastructure, by cause",
                Tags.of("type", type, "cause", cause));
    }

    @Override
    public void apiRequest(String method, String path, int status, long nanos) {
        Timer.builder("pworker.api.requests")
                .description("Requests to the Prefect API by route and status (0: no answer)")
                .tags("method", method, "route", ApiRoutes.route(path), "status", String.valueOf(status))
                .serviceLevelObjectives(BUCKETS)
                .register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void bind(WorkerGauges gauges) {
        bound.set(gauges);
    }

    @Override
    public String scrape() {
        return registry.scrape();
    }

    private void counter(String name, String description, Tags tags) {
        Counter.builder(name).description(description).tags(tags).register(registry).increment();
    }
}
