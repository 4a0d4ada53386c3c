package io.pworker.worker;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loop intervals drawn like Prefect's: an exponential distribution with the interval as mean, clamped to about
 * [0.75, 1.3] of it, so that many workers started together do not poll in lock-step.
 */
final class Jitter {

    private static final double UPPER = 1.3;
    private static final double LOWER = Math.log(Math.pow(2, UPPER) / (Math.pow(2, UPPER) - 1)) / Math.log(2);

    private Jitter() {
    }

    static Duration around(Duration interval) {
        double mean = interval.toNanos();
        if (mean <= 0) {
            return Duration.ZERO;
        }
        double lo = cdf(LOWER * mean, mean);
        double hi = cdf(UPPER * mean, mean);
        double u = lo + (hi - lo) * ThreadLocalRandom.current().nextDouble();
        return Duration.ofNanos(Math.round(-Math.log(1 - u) * mean));
    }

    private static double cdf(double x, double mean) {
        return 1 - Math.exp(-x / mean);
    }
}
