package io.pworker.api;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Pauses between attempts to open an event socket: 1 s, then doubling up to 30 s, each ±20 % at random. A
 * connection that stayed up for {@link #STABLE} counts as a success and starts the series again, so a server
 * restart costs one short pause while a server that accepts and at once closes is asked at most twice a minute.
 *
 * <p>Owned by the one thread that runs a socket; not thread-safe. Time is read from a monotonic nanosecond
 * source, not from the worker's clock, which tests may freeze.
 */
final class ReconnectBackoff {

    static final Duration FIRST = Duration.ofSeconds(1);
    static final Duration CAP = Duration.ofSeconds(30);
    static final Duration STABLE = Duration.ofSeconds(30);

    private final LongSupplier nanoTime;
    private int failures;
    private long openedAt = -1;
    private boolean lastWasStable;

    ReconnectBackoff() {
        this(System::nanoTime);
    }

    ReconnectBackoff(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** The socket is open. */
    void opened() {
        openedAt = nanoTime.getAsLong();
    }

    /** Whether the socket opened last is still open (or was, when it closed) for at least {@link #STABLE}. */
    boolean stable() {
        return openedAt >= 0 && nanoTime.getAsLong() - openedAt >= STABLE.toNanos();
    }

    /** Whether the connection that ended before the latest {@link #next()} had been stable. */
    boolean lastWasStable() {
        return lastWasStable;
    }

    /** The socket could not be opened or has closed: how long to wait before the next attempt. */
    Duration next() {
        lastWasStable = stable();
        if (lastWasStable) {
            failures = 0;
        }
        openedAt = -1;
        failures++;
        long nominal = failures >= 6 ? CAP.toMillis() : Math.min(CAP.toMillis(), FIRST.toMillis() << (failures - 1));
        double jitter = 0.8 + 0.4 * ThreadLocalRandom.current().nextDouble();
        return Duration.ofMillis(Math.round(nominal * jitter));
    }
}
