package io.pworker.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The /health rule with a clock the test moves: healthy while the last successful poll is within the threshold. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class HealthServerTest {

    private static final Duration THRESHOLD = Duration.ofSeconds(30 * 10);
    private final MovableClock clock = new MovableClock(Instant.parse("2026-11-29T12:00:00Z"));
    private final AtomicReference<Instant> lastPolled = new AtomicReference<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private HealthServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        http.close();
    }

    private void start() throws IOException {
        server = HealthServer.start("127.0.0.1", 0, lastPolled::get, THRESHOLD, clock);
    }

    private HttpResponse<String> get(String method, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void withoutAnyPollTheTimeCountsFromTheStartAndTurns503AfterTheThreshold() throws Exception {
        start();
        assertThat(get("GET", "/health").statusCode()).isEqualTo(200);
        clock.advance(THRESHOLD);
        assertThat(get("GET", "/health").statusCode()).as("exactly at the threshold").isEqualTo(200);
        clock.advance(Duration.ofSeconds(1));
        HttpResponse<String> unhealthy = get("GET", "/health");
        assertThat(unhealthy.statusCode()).isEqualTo(503);
        assertThat(unhealthy.body()).isEqualTo("{\"message\":\"Worker may be unresponsive at this time\"}");
    }

    @Test
    void aSuccessfulPollMakesItHealthyAgainAndAnOldOneDoesNot() throws Exception {
        start();
        clock.advance(THRESHOLD.plusSeconds(5));
        assertThat(get("GET", "/health").statusCode()).isEqualTo(503);
        lastPolled.set(clock.instant());
        HttpResponse<String> ok = get("GET", "/health");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("{\"message\":\"OK\"}");
        assertThat(ok.headers().firstValue("Content-Type")).contains("application/json");
        clock.advance(THRESHOLD.plusMillis(1));
        assertThat(get("GET", "/health").statusCode()).isEqualTo(503);
    }

    @Test
    void aPollTimeFromBeforeTheStartCountsAsIs() throws Exception {
        lastPolled.set(clock.instant().minus(THRESHOLD).minusSeconds(1));
        start();
        assertThat(get("GET", "/health").statusCode()).isEqualTo(503);
    }

    @Test
    void onlyGetAndHeadOnHealth() throws Exception {
        start();
        HttpResponse<String> head = get("HEAD", "/health");
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(get("POST", "/health").statusCode()).isEqualTo(405);
        assertThat(get("GET", "/healthz").statusCode()).isEqualTo(404);
    }

    @Test
    void badAddressesAreIoErrorsNamingThem() {
        assertThatThrownBy(() -> HealthServer.start("127.0.0.1", 99999, lastPolled::get, THRESHOLD, clock))
                .isInstanceOf(IOException.class).hasMessageContaining("99999");
        assertThatThrownBy(() -> HealthServer.start("no-such-host.invalid", 0, lastPolled::get, THRESHOLD, clock))
                .isInstanceOf(IOException.class).hasMessageContaining("no-such-host.invalid");
    }

    private static final class MovableClock extends Clock {
        private final AtomicReference<Instant> now;

        MovableClock(Instant start) {
            this.now = new AtomicReference<>(start);
        }

        void advance(Duration d) {
            now.updateAndGet(t -> t.plus(d));
        }

        @Override
        public Instant instant() {
            return now.get();
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }
}
