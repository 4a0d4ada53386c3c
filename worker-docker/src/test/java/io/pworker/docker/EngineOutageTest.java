package io.pworker.docker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

class EngineOutageTest {

    /** A clock the test moves by hand. */
    private static final class HandClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public ZoneId getZone() {
            return ZoneId.of("UTC");
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }
    }

    private final HandClock clock = new HandClock();
    private final EngineOutage outage = new EngineOutage(clock, Duration.ofSeconds(30));

    @Test
    void retriesBackOffFromHalfASecondToFiveSeconds() {
        long[] expectedMillis = {500, 1_000, 2_000, 4_000, 5_000, 5_000};
        for (long wait : expectedMillis) {
            outage.failed(new IOException("refused"));
            clock.advance(Duration.ofMillis(wait - 1));
            assertThat(outage.attemptDue()).isFalse();
            clock.advance(Duration.ofMillis(1));
            assertThat(outage.attemptDue()).isTrue();
        }
    }

    @Test
    void aWaitRunsOutOfPatienceCountedFromTheLaterOfItsStartAndTheOutages() {
        Instant before = clock.instant();
        clock.advance(Duration.ofSeconds(10));
        assertThat(outage.failed(new IOException("refused"))).as("starts the outage").isTrue();
        assertThat(outage.failed(new IOException("refused again"))).isFalse();
        clock.advance(Duration.ofSeconds(20));
        Instant during = clock.instant();
        clock.advance(Duration.ofSeconds(10).minusMillis(1));
        assertThat(outage.overdue(before)).isFalse();
        clock.advance(Duration.ofMillis(1));
        assertThat(outage.overdue(before)).isTrue();
        assertThat(outage.overdue(during)).as("began during the outage: its own 30 s").isFalse();
        assertThat(outage.lastFailure()).hasMessage("refused again");
        assertThat(outage.ended()).isTrue();
        assertThat(outage.overdue(before)).isFalse();
        assertThat(outage.attemptDue()).isTrue();
    }
}
