package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the worker which of its flow runs entered CANCELLING, and when a run of the pool was scheduled. It
 * subscribes to {@code prefect.flow-run.Cancelling} and {@code prefect.flow-run.Scheduled} events related to the
 * pool on {@code /events/out} (one socket for both: an idle pool costs the API nothing more). Scheduled events
 * only hint that a poll would find work; the poll loop stays the safety net. When the socket is refused or
 * drops (including a clean close, which Prefect's observer silently accepts) it says so in the log and polls
 * {@code /flow_runs/filter} for the runs the worker watches until the socket can be opened again. Attempts to
 * reopen it follow {@link ReconnectBackoff} (1 s doubling to 30 s), whatever the poll interval. A server of
 * another major Prefect version is not subscribed to at all: polling only, said once as an error.
 *
 * <p>One virtual thread owns the subscription and the polling. A run id may be reported more than once; the
 * consumer must be idempotent.
 */
public final class CancellationFeed implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CancellationFeed.class);
    private static final String CANCELLING = "prefect.flow-run.Cancelling";
    /** What 3.4.25 and 3.8.3 publish when a run is created scheduled (checked against both real servers). */
    private static final String SCHEDULED = "prefect.flow-run.Scheduled";
    private static final Duration MIN_POLL = Duration.ofSeconds(1);

    private final PrefectClient client;
    private final String workPoolId;
    private final Supplier<Collection<String>> watchedRuns;
    private final Consumer<String> onCancelling;
    private final Consumer<String> onScheduled;
    private final Duration pollInterval;
    private final Clock clock;
    private final Thread thread;
    private volatile WebSockets.Connection connection;
    private volatile boolean closed;
    private volatile boolean polling;

    /**
     * @param watchedRuns  ids of the runs the worker could act on; only these are polled for
     * @param onCancelling called with a flow-run id that entered CANCELLING
     * @param pollInterval how often to poll while the event socket is unavailable
     */
    public CancellationFeed(PrefectClient client, String workPoolId, Supplier<Collection<String>> watchedRuns,
            Consumer<String> onCancelling, Duration pollInterval, Clock clock) {
        this(client, workPoolId, watchedRuns, onCancelling, queue -> { }, pollInterval, clock);
    }

    /**
     * @param onScheduled called with the work queue's name (empty when the event names none) when a run of the
     *                    pool was scheduled; must return at once (it runs on the feed's thread)
     */
    public CancellationFeed(PrefectClient client, String workPoolId, Supplier<Collection<String>> watchedRuns,
            Consumer<String> onCancelling, Consumer<String> onScheduled, Duration pollInterval, Clock clock) {
        this.client = client;
        this.onScheduled = onScheduled;
        this.workPoolId = workPoolId;
        this.watchedRuns = watchedRuns;
        this.onCancelling = onCancelling;
        // a zero interval would poll the API in a loop; the settings already keep it at 1 s or more
        this.pollInterval = pollInterval.compareTo(MIN_POLL) < 0 ? MIN_POLL : pollInterval;
        this.clock = clock;
        this.thread = Thread.ofVirtual().name("pworker-cancellations").start(this::run);
    }

    /** True while the event socket is down and runs are found by polling. */
    public boolean polling() {
        return polling;
    }

    private void run() {
        Instant lastSeen = clock.instant();
        ReconnectBackoff backoff = new ReconnectBackoff();
        boolean socketUnusable = false;
        // at most one warning and one "restored" line per outage, however often a flaky socket opens and drops
        boolean announcedDown = false;
        boolean announcedUp = false;
        try {
            while (!closed) {
                if (!socketUnusable) {
                    try {
                        connection = WebSockets.open(client.http(), "/events/out");
                        backoff.opened();
                        connection.send(filter(lastSeen.minusSeconds(60)));
                        if (announcedDown && !announcedUp) {
                            log.info("Cancellation events: subscription to /events/out restored; polling stopped");
                            announcedUp = true;
                        }
                        polling = false;
                        // a socket that just opened may have missed events: one poll closes that gap
                        pollOnce();
                        while (!closed) {
                            JsonNode frame = connection.next(Duration.ofSeconds(30));
                            if (backoff.stable()) {
                                announcedDown = false;
                                announcedUp = false;
                            }
                            if (frame == null) {
                                continue;
                            }
                            if (frame == WebSockets.CLOSED) {
                                throw new IllegalStateException("the server closed the event subscription");
                            }
                            if ("event".equals(frame.path("type").asText())) {
                                lastSeen = clock.instant();
                                dispatch(frame.path("event"));
                            }
                        }
                    } catch (InterruptedException e) {
                        throw e;
                    } catch (IncompatibleServerException e) {
                        log.error("Cancellation events: {}; finding cancelled runs by polling /flow_runs/filter every {} s "
                                + "instead", e.getMessage(), pollInterval.toSeconds());
                        socketUnusable = true;
                        announcedDown = true;
                    } catch (Exception e) {
                        if (closed) {
                            break;
                        }
                        if (backoff.stable()) {
                            announcedDown = false;
                            announcedUp = false;
                        }
                        if (!announcedDown) {
                            log.warn("Cancellation events: /events/out unavailable ({}); falling back to polling "
                                    + "/flow_runs/filter every {} s", e.getMessage(), pollInterval.toSeconds());
                            announcedDown = true;
                            announcedUp = false;
                        }
                    } finally {
                        WebSockets.Connection c = connection;
                        if (c != null) {
                            c.socket().abort();
                            connection = null;
                        }
                    }
                }
                polling = true;
                pollUntilNextAttempt(socketUnusable ? null : backoff.next());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void dispatch(JsonNode event) {
        String name = event.path("event").asText();
        String resource = event.path("resource").path("prefect.resource.id").asText("");
        if (!resource.startsWith("prefect.flow-run.")) {
            return;
        }
        if (CANCELLING.equals(name)) {
            onCancelling.accept(resource.substring("prefect.flow-run.".length()));
        } else if (SCHEDULED.equals(name)) {
            String queue = "";
            for (JsonNode related : event.path("related")) {
                if ("work-queue".equals(related.path("prefect.resource.role").asText())) {
                    queue = related.path("prefect.resource.name").asText("");
                }
            }
            onScheduled.accept(queue);
        }
    }

    /**
     * Polls every poll interval until it is time to try the socket again ({@code wait} from now; null: never).
     * The socket's back-off and the poll interval are independent: a short poll interval must not mean a
     * reconnect storm, and a long back-off must not delay finding cancelled runs.
     */
    private void pollUntilNextAttempt(Duration wait) throws InterruptedException {
        long deadline = wait == null ? 0 : System.nanoTime() + wait.toNanos();
        log.debug("Cancellation events: next attempt to subscribe in {}", wait == null ? "never" : wait.toMillis() + " ms");
        while (!closed) {
            pollOnce();
            long left = wait == null ? Long.MAX_VALUE : deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Thread.sleep(Duration.ofNanos(Math.min(left, pollInterval.toNanos())));
            if (wait != null && deadline - System.nanoTime() <= 0) {
                return;
            }
        }
    }

    private void pollOnce() throws InterruptedException {
        Set<String> ids = new HashSet<>(watchedRuns.get());
        if (ids.isEmpty()) {
            return;
        }
        try {
            for (JsonNode run : client.filterFlowRuns(stateFilter(ids), null)) {
                onCancelling.accept(run.path("id").asText());
            }
        } catch (ApiException e) {
            log.warn("Cancellation polling failed: {}", e.getMessage());
        }
    }

    private static ObjectNode stateFilter(Set<String> ids) {
        ObjectNode flowRuns = JsonNodeFactory.instance.objectNode();
        ArrayNode any = flowRuns.putObject("id").putArray("any_");
        ids.stream().sorted().forEach(any::add);
        flowRuns.putObject("state").putObject("type").putArray("any_").add("CANCELLING");
        return flowRuns;
    }

    private ObjectNode filter(Instant since) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode msg = f.objectNode().put("type", "filter");
        ObjectNode filter = msg.putObject("filter");
        ObjectNode occurred = filter.putObject("occurred");
        occurred.put("since", PrefectClient.TIMESTAMP.format(since));
        occurred.put("until", PrefectClient.TIMESTAMP.format(clock.instant().plus(Duration.ofDays(365))));
        filter.putObject("event").putArray("name").add(CANCELLING).add(SCHEDULED);
        filter.putObject("any_resource").putArray("id").add("prefect.work-pool." + workPoolId);
        return msg;
    }

    @Override
    public void close() {
        closed = true;
        WebSockets.Connection c = connection;
        if (c != null) {
            c.close();
        }
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
