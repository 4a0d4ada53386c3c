package io.pworker.api;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * When a failed API call is tried again. Retry {@code n} (1-based) waits {@code min(2^n, 60)} seconds, or what
 * the server's {@code Retry-After} asks for, stretched by a random factor between 1 and 1.2 so that workers
 * hit by the same outage do not come back in step. The jitter only ever lengthens a wait: the window computed
 * by {@link #minimumWindow()} is a promise, not an average.
 *
 * <p>With Prefect's default of 5 retries the waits are 2, 4, 8, 16 and 32 s: the last attempt comes at least
 * 62 s after the first failure, so a server that is busy or restarting for under a minute never fails a call.
 *
 * @param maxRetries attempts after the first one ({@code PREFECT_CLIENT_MAX_RETRIES}; 0 turns retries off)
 */
public record RetrySchedule(int maxRetries) {

    /** The longest pause computed from the attempt number; more retries add this much each. */
    public static final Duration MAX_BACKOFF = Duration.ofSeconds(60);
    /** A longer Retry-After is taken as this: a worker that sleeps for hours on one header looks dead. */
    public static final Duration MAX_RETRY_AFTER = Duration.ofMinutes(10);
    static final double MAX_JITTER = 0.2;
    /**
     * A 503 without Retry-After is first asked again this many times after a short pause, before the back-off
     * above. A SQLite-backed Prefect server answers 503 "database is locked" when writes overlap; the lock is
     * held for milliseconds, so a 2 s wait is mostly idle: with 300 claims due at once it put the last ones
     * seconds behind the server's own pace. These retries do not count against {@code maxRetries}, so the
     * window above still holds.
     */
    public static final int QUICK_RETRIES = 2;
    static final Duration QUICK_BASE = Duration.ofMillis(250);

    public RetrySchedule {
        if (maxRetries < 0) {
            throw new IllegalArgumentException("maxRetries must not be negative");
        }
    }

    /** The pause before retry {@code retry} (1-based) without jitter or Retry-After. */
    public static Duration backoff(int retry) {
        if (retry <= 0) {
            return Duration.ZERO;
        }
        return retry >= 6 ? MAX_BACKOFF : Duration.ofSeconds(Math.min(1L << retry, MAX_BACKOFF.toSeconds()));
    }

    /**
     * The pause before retry {@code retry}.
     *
     * @param retryAfter what the server asked for, or null
     * @param random     a number in [0, 1) that picks the jitter
     */
    public static Duration delay(int retry, Duration retryAfter, double random) {
        Duration base = retryAfter != null ? min(retryAfter, MAX_RETRY_AFTER) : backoff(retry);
        return Duration.ofMillis(Math.round(base.toMillis() * (1 + MAX_JITTER * random)));
    }

    /**
     * The pause before quick retry {@code quick} (1-based) of a 503: 250 ms, then 500 ms, each stretched by a
     * random factor between 1 and 2 so that the requests that met the same lock do not all come back together.
     */
    public static Duration quickDelay(int quick, double random) {
        long base = QUICK_BASE.toMillis() << Math.max(0, Math.min(quick, QUICK_RETRIES) - 1);
        return Duration.ofMillis(Math.round(base * (1 + random)));
    }

    /** The shortest time from the first failed attempt to the last one when the server sends no Retry-After. */
    public Duration minimumWindow() {
        Duration total = Duration.ZERO;
        for (int retry = 1; retry <= maxRetries; retry++) {
            total = total.plus(backoff(retry));
        }
        return total;
    }

    /**
     * Reads a {@code Retry-After} header: a number of seconds (Prefect's servers send fractions too) or an HTTP
     * date. Empty for anything else, which then gets the computed back-off.
     */
    public static Optional<Duration> parseRetryAfter(String value, Instant now) {
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        String v = value.strip();
        try {
            double seconds = Double.parseDouble(v);
            if (Double.isNaN(seconds) || Double.isInfinite(seconds)) {
                return Optional.empty();
            }
            return Optional.of(Duration.ofMillis(Math.round(Math.max(0, Math.min(seconds, 1e9)) * 1000)));
        } catch (NumberFormatException notSeconds) {
            try {
                Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                Duration d = Duration.between(now, at);
                return Optional.of(d.isNegative() ? Duration.ZERO : d);
            } catch (DateTimeParseException notADate) {
                return Optional.empty();
            }
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
