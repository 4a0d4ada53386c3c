package io.pworker.docker;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Just enough of a registry (Docker Registry HTTP API v2) to see which credentials the engine presents: it asks
 * for Basic auth on {@code /v2/} and knows no manifests, so every pull fails after authenticating. Loopback only;
 * the engine treats 127.0.0.0/8 registries as insecure (plain HTTP) by default.
 */
final class FakeRegistry implements AutoCloseable {

    private final HttpServer server;
    final List<String> authorizations = new CopyOnWriteArrayList<>();

    FakeRegistry() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        String auth = exchange.getRequestHeaders().getFirst("Authorization");
        exchange.getResponseHeaders().set("Docker-Distribution-API-Version", "registry/2.0");
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        if (auth == null) {
            exchange.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"pworker-test\"");
            send(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
            return;
        }
        authorizations.add(auth);
        if (exchange.getRequestURI().getPath().equals("/v2/")) {
            send(exchange, 200, "{}");
        } else {
            send(exchange, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}");
        }
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, exchange.getRequestMethod().equals("HEAD") ? -1 : bytes.length);
        if (!exchange.getRequestMethod().equals("HEAD")) {
            exchange.getResponseBody().write(bytes);
        }
        exchange.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
