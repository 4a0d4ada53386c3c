package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code /ready} (the Kubernetes readiness probe): 200 only once the worker synced and a poll was answered. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReadinessTest {

    @Test
    void readyOnceAPollIsAnsweredAndNotWhileTheApiIsAway() throws Exception {
        try (CoreHarness h = new CoreHarness(new StubPlugin())) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Worker down = h.create(WorkerOptions.of("pool", "stub").withName("down").withHealthcheck(true),
                    h.settings("PREFECT_API_URL", "http://127.0.0.1:" + port + "/api",
                            "PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1", "PREFECT_WORKER_WEBSERVER_PORT", "0"));
            down.start();
            Worker up = h.create(WorkerOptions.of("pool", "stub").withName("up").withHealthcheck(true),
                    h.settings("PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1", "PREFECT_WORKER_WEBSERVER_PORT", "0"));
            up.start();

            Instant end = Instant.now().plusSeconds(20);
            while (get(up, "/ready") != 200 && Instant.now().isBefore(end)) {
                Thread.sleep(50);
            }
            assertThat(get(up, "/ready")).isEqualTo(200);
            assertThat(get(down, "/ready")).isEqualTo(503);
            assertThat(get(down, "/health")).isEqualTo(200);
            assertThat(get(up, "/ready/x")).isEqualTo(404);
        }
    }

    private static int get(Worker w, String path) throws Exception {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + w.healthPort() + path)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }
}
