package io.pworker.it;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/** Polls a condition against a real server, where every answer takes its time. */
final class Await {

    private Await() {
    }

    static void until(Duration timeout, Callable<Boolean> condition, Supplier<String> what) {
        until(timeout, Duration.ofMillis(250), condition, what);
    }

    static void until(Duration timeout, Duration every, Callable<Boolean> condition, Supplier<String> what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (true) {
            try {
                if (Boolean.TRUE.equals(condition.call())) {
                    return;
                }
                last = null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what.get(), e);
            } catch (Exception e) {
                last = e;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout.toSeconds() + " s: " + what.get()
                        + (last == null ? "" : " (last error: " + last + ")"), last);
            }
            try {
                Thread.sleep(every.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what.get(), e);
            }
        }
    }

    static void until(Duration timeout, Callable<Boolean> condition, String what) {
        until(timeout, condition, () -> what);
    }
}
