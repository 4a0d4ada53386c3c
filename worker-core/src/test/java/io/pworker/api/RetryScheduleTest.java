package io.pworker.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.junit.jupiter.api.Test;

class RetryScheduleTest {

    @Test
    void theDefaultFiveRetriesCoverMoreThanAMinute() {
        RetrySchedule defaults = new RetrySchedule(5);
        assertThat(defaults.minimumWindow()).isEqualTo(Duration.ofSeconds(2 + 4 + 8 + 16 + 32));
        assertThat(defaults.minimumWindow()).isGreaterThanOrEqualTo(Duration.ofSeconds(60));
        assertThat(new RetrySchedule(0).minimumWindow()).isZero();
        // past 32 s each retry adds the cap
        assertThat(new RetrySchedule(7).minimumWindow()).isEqualTo(Duration.ofSeconds(62 + 60 + 60));
    }

    @Test
    void backOffDoublesUpToTheCapAndJitterOnlyLengthens() {
        assertThat(RetrySchedule.backoff(1)).isEqualTo(Duration.ofSeconds(2));
        assertThat(RetrySchedule.backoff(5)).isEqualTo(Duration.ofSeconds(32));
        assertThat(RetrySchedule.backoff(6)).isEqualTo(RetrySchedule.MAX_BACKOFF);
        assertThat(RetrySchedule.backoff(1000)).isEqualTo(RetrySchedule.MAX_BACKOFF);
        assertThat(RetrySchedule.delay(3, null, 0.0)).isEqualTo(Duration.ofSeconds(8));
        assertThat(RetrySchedule.delay(3, null, 0.999)).isLessThanOrEqualTo(Duration.ofMillis(9600));
    }

    @Test
    void retryAfterWinsAndIsNeverShortened() {
        assertThat(RetrySchedule.delay(1, Duration.ofSeconds(7), 0.0)).isEqualTo(Duration.ofSeconds(7));
        assertThat(RetrySchedule.delay(1, Duration.ofSeconds(7), 0.999)).isBetween(Duration.ofSeconds(7), Duration.ofMillis(8400));
        assertThat(RetrySchedule.delay(1, Duration.ofDays(1), 0.0)).isEqualTo(RetrySchedule.MAX_RETRY_AFTER);
    }

    @Test
    void retryAfterIsReadAsSecondsOrAsAnHttpDate() {
        Instant now = Instant.parse("2026-11-29T12:00:00Z");
        assertThat(RetrySchedule.parseRetryAfter("3", now)).contains(Duration.ofSeconds(3));
        assertThat(RetrySchedule.parseRetryAfter(" 1.5 ", now)).contains(Duration.ofMillis(1500));
        String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(now.plusSeconds(42).atZone(ZoneOffset.UTC));
        assertThat(RetrySchedule.parseRetryAfter(date, now)).contains(Duration.ofSeconds(42));
        assertThat(RetrySchedule.parseRetryAfter("Sun, 29 Nov 2026 11:00:00 GMT", now)).contains(Duration.ZERO);
        assertThat(RetrySchedule.parseRetryAfter("-4", now)).contains(Duration.ZERO);
        assertThat(RetrySchedule.parseRetryAfter("soon", now)).isEmpty();
        assertThat(RetrySchedule.parseRetryAfter("", now)).isEmpty();
    }

    @Test
    void a503IsFirstAskedAgainAfterAFractionOfASecond() {
        assertThat(RetrySchedule.quickDelay(1, 0.0)).isEqualTo(Duration.ofMillis(250));
        assertThat(RetrySchedule.quickDelay(1, 0.999)).isLessThanOrEqualTo(Duration.ofMillis(500));
        assertThat(RetrySchedule.quickDelay(2, 0.0)).isEqualTo(Duration.ofMillis(500));
        assertThat(RetrySchedule.quickDelay(2, 0.999)).isLessThanOrEqualTo(Duration.ofSeconds(1));
        // the quick retries come on top of the back-off steps: the window of the default five is unchanged
        assertThat(new RetrySchedule(5).minimumWindow()).isEqualTo(Duration.ofSeconds(62));
    }
}
