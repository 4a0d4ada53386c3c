package io.pworker.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ReconnectBackoffTest {

    private final AtomicLong now = new AtomicLong();
    private final ReconnectBackoff backoff = new ReconnectBackoff(now::get);

    private static void around(Duration actual, long nominalMillis) {
        assertThat(actual.toMillis()).isBetween(Math.round(nominalMillis * 0.8), Math.round(nominalMillis * 1.2));
    }

    @Test
    void pausesDoubleUpToTheCapWhileConnectionsDoNotLast() {
        long[] expected = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
        for (long nominal : expected) {
            backoff.opened();
            now.addAndGet(Duration.ofSeconds(1).toNanos());
            around(backoff.next(), nominal);
        }
    }

    @Test
    void refusedAttemptsCountLikeShortConnections() {
        around(backoff.next(), 1000);
        around(backoff.next(), 2000);
        around(backoff.next(), 4000);
    }

    @Test
    void aConnectionThatLastedStartsTheSeriesAgain() {
        for (int i = 0; i < 5; i++) {
            backoff.next();
        }
        backoff.opened();
        now.addAndGet(ReconnectBackoff.STABLE.toNanos());
        assertThat(backoff.stable()).isTrue();
        around(backoff.next(), 1000);
        assertThat(backoff.lastWasStable()).isTrue();
        around(backoff.next(), 2000);
        assertThat(backoff.lastWasStable()).isFalse();
    }
}
