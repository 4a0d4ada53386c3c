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

    private static final Duration DEFAULT_ALLOWANCE = Duration.ofSeconds(300);

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

    /** {@code PWORKER_WATCHDOG_STALL_SECONDS}: 300 s unless set to a positive whole number, which a bad value is warned about. */
    static Duration allowance(String setting) {
        if (setting == null || setting.isBlank()) {
            return DEFAULT_ALLOWANCE;
        }
        try {
            long seconds = Long.parseLong(setting.trim());
            if (seconds > 0) {
                return Duration.ofSeconds(seconds);
            }
        } catch (NumberFormatException e) {
            // warned below
        }
        org.slf4j.LoggerFactory.getLogger(LoopBeat.class).warn(
                "PWORKER_WATCHDOG_STALL_SECONDS must be a positive whole number of seconds, got '{}'; using {}",
                setting, DEFAULT_ALLOWANCE.toSeconds());
        return DEFAULT_ALLOWANCE;
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
