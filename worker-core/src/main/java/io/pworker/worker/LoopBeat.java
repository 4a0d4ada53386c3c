package io.pworker.worker;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Proof that a worker loop is still going round: stamped when each pass of its body starts and ends. A loop whose
 * stamp is older than its interval plus a generous allowance for one slow pass (API retries, a reconcile) is
 * wedged — deadlocked, stuck in a call without a timeout, or its thread gone — and the systemd watchdog pings
 * stop (see {@link ServiceNotifications}). An API outage is not a wedge: the loop still goes round and fails.
 */
final class LoopBeat {

    private final String loop;
    private final Duration stallAfter;
    private final Clock clock;
    private volatile Instant last;

    LoopBeat(String loop, Duration interval, Duration allowance, Clock clock) {
        this.loop = loop;
        // the loop sleeps up to about 1.5 intervals (jitter) between passes
        this.stallAfter = interval.multipliedBy(2).plus(allowance);
        this.clock = clock;
        this.last = clock.instant();
    }

    String loop() {
        return loop;
    }

    ServiceLoop.Body around(ServiceLoop.Body body) {
        return () -> {
            last = clock.instant();
            try {
                body.run();
            } finally {
                last = clock.instant();
            }
        };
    }

    /** How long the loop has made no progress, when that is longer than it may. */
    Optional<Duration> stalled() {
        Duration since = Duration.between(last, clock.instant());
        return since.compareTo(stallAfter) > 0 ? Optional.of(since) : Optional.empty();
    }
}
