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
 *
 * <p>The rule (worker-spec §4): healthy while {@code now - lastPolled <= threshold}, the threshold being
 * 30 × {@code PREFECT_WORKER_QUERY_SECONDS}. Until the first successful poll the time is counted from the
 * server's start, so a worker that never manages to poll turns unhealthy one threshold after it started — not
 * never, and not at once. Only a poll that got an answer from the API may move {@code lastPolled}; a skipped or
 * failed poll must leave it alone, or an outage would look healthy.
 */
public final class HealthServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HealthServer.class);
    private final HttpServer server;

    private HealthServer(HttpServer server) {
        this.server = server;
    }

    /**
     * Binds and starts serving.
     *
     * @param lastPolled when the last successful poll happened; null until there was one
     * @param threshold  how old the last poll may be for the worker to count as healthy (positive)
     * @throws IOException for an address that cannot be bound or resolved, with a message naming it
     */
    public static HealthServer start(String host, int port, Supplier<Instant> lastPolled, Duration threshold, Clock clock)
            throws IOException {
        if (threshold.isNegative() || threshold.isZero()) {
            throw new IllegalArgumentException("the health threshold must be positive, got " + threshold);
        }
        if (port < 0 || port > 65535) {
            throw new IOException("port " + port + " is not a port number (0 to 65535)");
        }
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new IOException("host name '" + host + "' does not resolve to an address");
        }
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (java.nio.channels.UnresolvedAddressException | java.nio.channels.UnsupportedAddressTypeException e) {
            throw new IOException("cannot bind " + host + ":" + port, e);
        }
        Instant started = clock.instant();
        server.createContext("/health", exchange -> {
            try (exchange) {
                if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                    send(exchange, 405, "{\"detail\":\"Method Not Allowed\"}", false);
                    return;
                }
                if (!exchange.getRequestURI().getPath().equals("/health")) {
                    send(exchange, 404, "{\"detail\":\"Not Found\"}", false);
                    return;
                }
                Instant polled = lastPolled.get();
                Duration since = Duration.between(polled == null ? started : polled, clock.instant());
                boolean head = exchange.getRequestMethod().equals("HEAD");
                if (since.compareTo(threshold) <= 0) {
                    send(exchange, 200, "{\"message\":\"OK\"}", head);
                } else {
                    log.error("Worker has not polled in the last {} seconds and should be restarted", since.toSeconds());
                    send(exchange, 503, "{\"message\":\"Worker may be unresponsive at this time\"}", head);
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

    /**
     * Adds {@code GET /ready} for readiness probes: 200 {@code {"message":"Ready"}} once {@code ready} says the
     * worker has synced with the API and a poll was answered, 503 before. Liveness stays with {@code /health}:
     * a worker that has never reached the API is not ready, but restarting it would not help.
     */
    public void serveReadiness(java.util.function.BooleanSupplier ready) {
        server.createContext("/ready", exchange -> {
            try (exchange) {
                String method = exchange.getRequestMethod();
                if (!method.equals("GET") && !method.equals("HEAD")) {
                    send(exchange, 405, "{\"detail\":\"Method Not Allowed\"}", false);
                } else if (!exchange.getRequestURI().getPath().equals("/ready")) {
                    send(exchange, 404, "{\"detail\":\"Not Found\"}", false);
                } else if (ready.getAsBoolean()) {
                    send(exchange, 200, "{\"message\":\"Ready\"}", method.equals("HEAD"));
                } else {
                    send(exchange, 503, "{\"message\":\"Not ready: no poll answered by the Prefect API yet\"}",
                            method.equals("HEAD"));
                }
            }
        });
    }

    /**
     * Serves {@code GET path} with what {@code body} gives at each request, on the health server's thread: a slow
     * body delays {@code /health}, so keep it cheap (a metrics scrape is).
     */
    public void serve(String path, String contentType, Supplier<String> body) {
        server.createContext(path, exchange -> {
            try (exchange) {
                if (!exchange.getRequestMethod().equals("GET")) {
                    send(exchange, 405, "{\"detail\":\"Method Not Allowed\"}", false);
                    return;
                }
                if (!exchange.getRequestURI().getPath().equals(path)) {
                    send(exchange, 404, "{\"detail\":\"Not Found\"}", false);
                    return;
                }
                byte[] bytes = body.get().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", contentType);
                exchange.sendResponseHeaders(200, bytes.length == 0 ? -1 : bytes.length);
                if (bytes.length > 0) {
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(bytes);
                    }
                }
            }
        });
        log.info("{} served on port {}", path, server.getAddress().getPort());
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void send(HttpExchange exchange, int status, String body, boolean headOnly) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        if (headOnly) {
            // a HEAD answer has no body; the JDK server wants -1 for that
            exchange.sendResponseHeaders(status, -1);
            return;
        }
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
