package io.pworker.docker;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The bookkeeping of an engine that stopped answering a watcher: since when, why, when to try again (back-off
 * from half a second up to five), and which waits have run out of patience. Not thread-safe: one watcher's
 * owner thread alone uses it.
 */
final class EngineOutage {

    private static final Duration FIRST_RETRY = Duration.ofMillis(500);
    private static final Duration MAX_RETRY = Duration.ofSeconds(5);

    private final Clock clock;
    private final Duration patience;
    private Instant since;
    private Throwable lastFailure;
    private int failures;
    private Instant nextAttempt = Instant.EPOCH;

    EngineOutage(Clock clock, Duration patience) {
        this.clock = clock;
        this.patience = patience;
    }

    /** Records a failed attempt; true when it starts an outage (the engine answered before). */
    boolean failed(Throwable cause) {
        Instant now = clock.instant();
        boolean starts = since == null;
        if (starts) {
            since = now;
        }
        lastFailure = cause;
        failures++;
        Duration wait = FIRST_RETRY.multipliedBy(1L << Math.min(failures - 1, 4));
        nextAttempt = now.plus(wait.compareTo(MAX_RETRY) > 0 ? MAX_RETRY : wait);
        return starts;
    }

    /** The engine answers; true when that ends an outage. */
    boolean ended() {
        boolean was = since != null;
        since = null;
        lastFailure = null;
        failures = 0;
        return was;
    }

    boolean ongoing() {
        return since != null;
    }

    boolean attemptDue() {
        return !clock.instant().isBefore(nextAttempt);
    }

    /**
     * Whether a wait that began at {@code waitingSince} has had no engine for the whole patience period; a wait
     * that began during the outage gets its full patience too.
     */
    boolean overdue(Instant waitingSince) {
        if (since == null) {
            return false;
        }
        Instant from = waitingSince.isAfter(since) ? waitingSince : since;
        return !clock.instant().isBefore(from.plus(patience));
    }

    /** Why the last attempt failed; only meaningful while {@link #ongoing()}. */
    Throwable lastFailure() {
        return lastFailure;
    }
}
