package io.pworker.health;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /health} for liveness probes, with Prefect's answers: 200 {@code {"message":"OK"}} while the
 * last successful poll is recent, 503 {@code {"message":"Worker may be unresponsive at this time"}} otherwise.
 * It has its own thread, so it still answers (with 503) when polling is stuck.
 */
public final class HealthServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HealthServer.class);
    private final HttpServer server;

    private HealthServer(HttpServer server) {
        this.server = server;
    }

    public static HealthServer start(String host, int port, Supplier<Instant> lastPolled, Duration threshold, Clock clock)
            throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 16);
        server.createContext("/health", exchange -> {
            try (exchange) {
                if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                    send(exchange, 405, "{\"detail\":\"Method Not Allowed\"}");
                    return;
                }
                if (!exchange.getRequestURI().getPath().equals("/health")) {
                    send(exchange, 404, "{\"detail\":\"Not Found\"}");
                    return;
                }
                Duration since = Duration.between(lastPolled.get(), clock.instant());
                if (since.compareTo(threshold) <= 0) {
                    send(exchange, 200, "{\"message\":\"OK\"}");
                } else {
                    log.error("Worker has not polled in the last {} seconds and should be restarted", since.toSeconds());
                    send(exchange, 503, "{\"message\":\"Worker may be unresponsive at this time\"}");
                }
            }
        });
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "pworker-health");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        log.info("Health check served on http://{}:{}/health", host, server.getAddress().getPort());
        return new HealthServer(server);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
