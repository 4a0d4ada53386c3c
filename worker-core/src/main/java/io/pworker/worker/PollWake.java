package io.pworker.worker;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Lets a scheduled-run event end the poll loop's sleep early. Any number of wake-ups before the loop next sleeps
 * count as one (a burst of 300 new runs is a few polls, not 300), and the loop keeps a minimum gap between polls
 * so a steady stream of events cannot turn it into a busy loop against the API.
 */
final class PollWake {

    /** Shortest time between the starts of two polls when events keep waking the loop. */
    static final Duration MIN_GAP = Duration.ofMillis(200);

    // a queue of one: offering to a full queue is the debounce, and poll(timeout) does not pin a virtual thread
    private final BlockingQueue<Boolean> pending = new ArrayBlockingQueue<>(1);

    /** Asks for a poll as soon as the gap allows; returns at once. */
    void wake() {
        pending.offer(Boolean.TRUE);
    }

    /**
     * Sleeps up to {@code interval}, less if woken; a wake-up that comes sooner than {@link #MIN_GAP} after
     * {@code lastPollStartNanos} waits out the rest of the gap.
     */
    void sleep(Duration interval, long lastPollStartNanos) throws InterruptedException {
        if (pending.poll(interval.toNanos(), TimeUnit.NANOSECONDS) == null) {
            return;
        }
        long early = lastPollStartNanos + MIN_GAP.toNanos() - System.nanoTime();
        if (early > 0) {
            Thread.sleep(Duration.ofNanos(early));
        }
        // wake-ups that came during the gap are served by the poll about to start
        pending.clear();
    }
}
