package io.pworker.worker;

import io.pworker.api.ApiException;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker loop (sync, poll): run the body, sleep a jittered interval, repeat until the worker stops. API errors
 * never end a loop (the daemon outlives outages; {@code /health} reports them); three failures in a row are
 * logged once, and so is the recovery.
 */
final class ServiceLoop {

    private static final Logger log = LoggerFactory.getLogger(ServiceLoop.class);

    interface Body {
        void run() throws ApiException, InterruptedException;
    }

    private ServiceLoop() {
    }

    static Thread start(String what, Duration interval, boolean sleepFirst, BooleanSupplier stopping, Body body) {
        return start(what, interval, sleepFirst, stopping, null, body);
    }

    /** @param wake ends a sleep early (the poll loop, on scheduled-run events); null when nothing may */
    static Thread start(String what, Duration interval, boolean sleepFirst, BooleanSupplier stopping, PollWake wake,
            Body body) {
        return Thread.ofVirtual().name("pworker-" + what).start(() -> run(what, interval, sleepFirst, stopping, wake, body));
    }

    private static void run(String what, Duration interval, boolean sleepFirst, BooleanSupplier stopping, PollWake wake,
            Body body) {
        int failures = 0;
        try {
            if (sleepFirst) {
                Thread.sleep(Jitter.around(interval));
            }
            while (!stopping.getAsBoolean()) {
                long started = System.nanoTime();
                try {
                    body.run();
                    if (failures >= 3) {
                        log.info("The {} loop is working again after {} failed attempts", what, failures);
                    }
                    failures = 0;
                } catch (ApiException e) {
                    failures++;
                    // Prefect's worker exits on a 4xx here; a daemon that outlives a misconfiguration is
                    // easier to fix (the message is in the log) and recovers by itself when it is fixed.
                    if (failures == 1 || failures % 10 == 0) {
                        log.warn("{} failed ({} in a row): {}{}", what, failures, e.getMessage(), Worker.hintFor(e));
                    }
                    if (failures == 3) {
                        log.warn("Failed the last 3 attempts to {}. Please check your environment and configuration.",
                                what);
                    }
                } catch (RuntimeException e) {
                    failures++;
                    log.error("Unexpected error in the {} loop; it goes on", what, e);
                }
                if (wake == null) {
                    Thread.sleep(Jitter.around(interval));
                } else {
                    wake.sleep(Jitter.around(interval), started);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
