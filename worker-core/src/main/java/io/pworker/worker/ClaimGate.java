package io.pworker.worker;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * Holds back the launches of one poll's runs (all its pages) until that poll's claims are all answered. Measured on a real
 * 3.4.25 server with 300 due runs: when the first runs claimed went on at once to their labels, "Submitting"
 * state, infrastructure pid and process start, those writes met the remaining claims on the SQLite lock and
 * the CPUs, and the last claims came seconds after the server's own pace for 300 claims alone. Claimed runs
 * now wait here, so the claims run alone and the launches follow together.
 *
 * <p>The wait is bounded ({@link #MAX_WAIT}): a claim stuck in the server's WAIT answers or in retries must not
 * hold up the runs already won. The poll {@linkplain #expect() counts in} each run it hands over before the
 * run's supervisor can answer, and {@linkplain #close() closes} the gate once it has handed over all it will.
 */
final class ClaimGate {

    /** The longest a claimed run waits for the other claims of its poll. */
    static final Duration MAX_WAIT = Duration.ofSeconds(15);
    /** How often a waiting run looks whether it was told to stop meanwhile. */
    private static final long CHECK_MILLIS = 200;

    // a lock rather than synchronized: hundreds of virtual threads wait here, and on JDK 21 Object.wait pins each
    // to a carrier thread of its own
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition settled = lock.newCondition();
    private int unanswered;
    private boolean closed;

    /** A run is about to be handed to a supervisor that will claim it. */
    void expect() {
        lock.lock();
        try {
            unanswered++;
        } finally {
            lock.unlock();
        }
    }

    /** A claim got its answer (won, lost or failed), or the run was never handed over after {@link #expect()}. */
    void answered() {
        lock.lock();
        try {
            unanswered--;
            // the poll waits for a few left, the launches for none
            if (unanswered <= Submission.CONCURRENT_CLAIMS) {
                settled.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** The poll has handed over every run it will. */
    void close() {
        lock.lock();
        try {
            closed = true;
            settled.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until at most {@code left} of the claims handed over so far are unanswered, at most
     * {@link #MAX_WAIT}: the poll asks for the next page of due runs only then, since the server answers with
     * the runs still SCHEDULED.
     */
    void awaitAnswered(int left, BooleanSupplier stop) throws InterruptedException {
        long deadline = System.nanoTime() + MAX_WAIT.toNanos();
        lock.lockInterruptibly();
        try {
            while (unanswered > left) {
                long time = deadline - System.nanoTime();
                if (time <= 0 || stop.getAsBoolean()) {
                    return;
                }
                settled.await(Math.min(time, TimeUnit.MILLISECONDS.toNanos(CHECK_MILLIS)), TimeUnit.NANOSECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until every claim of the poll is answered, at most {@link #MAX_WAIT}, or until {@code stop} says so.
     *
     * @return false when it stopped waiting because of the bound or {@code stop}
     */
    boolean await(BooleanSupplier stop) throws InterruptedException {
        long deadline = System.nanoTime() + MAX_WAIT.toNanos();
        lock.lockInterruptibly();
        try {
            while (!(closed && unanswered <= 0)) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || stop.getAsBoolean()) {
                    return false;
                }
                settled.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(CHECK_MILLIS)), TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
