package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Opens Prefect's event sockets ({@code /events/in}, {@code /events/out}) the way each server wants them, as
 * checked against real 3.4.25 and 3.8.3 servers:
 * <ul>
 *   <li>{@code /events/out}: the {@code prefect} subprotocol (3.4.25 refuses the upgrade without it) and the auth
 *       message first (both close with 1008 "Expected 'auth' message" otherwise);</li>
 *   <li>{@code /events/in} on servers from 3.7.0: the subprotocol and the auth message, which they require once
 *       the subprotocol is asked for;</li>
 *   <li>{@code /events/in} on older servers, and when the version is not known: neither. 3.4.25 takes every frame
 *       as an event and drops the socket on an auth message; 3.8.3 takes plain events when no subprotocol is
 *       asked for, so this also works with a server whose version could not be read;</li>
 *   <li>Prefect Cloud: a bearer header, no subprotocol and no auth message, on both.</li>
 * </ul>
 * The server's version comes from {@link PrefectHttp#serverVersion()} (one {@code GET /admin/version} per
 * client); a server of another major version is refused with {@link IncompatibleServerException}. Incoming text
 * frames are queued so that one thread owns the reading.
 */
final class WebSockets {

    static final ObjectMapper JSON = new ObjectMapper();
    /** Marks the end of the stream in {@link Connection#incoming}. */
    static final JsonNode CLOSED = JsonNodeFactory.instance.textNode("<closed>");

    private WebSockets() {
    }

    record Connection(WebSocket socket, BlockingQueue<JsonNode> incoming) {

        JsonNode next(Duration timeout) throws InterruptedException {
            return incoming.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        void send(JsonNode frame) throws Exception {
            socket.sendText(JSON.writeValueAsString(frame), true).get(10, TimeUnit.SECONDS);
        }

        void close() {
            try {
                socket.sendClose(WebSocket.NORMAL_CLOSURE, "").orTimeout(2, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                socket.abort();
            }
        }
    }

    /** Connects and authenticates; throws with a readable message when the server refuses. */
    static Connection open(PrefectHttp http, String path) throws Exception {
        boolean cloud = http.settings().isCloud();
        boolean handshake = false;
        if (!cloud) {
            ServerVersion server = http.serverVersion();
            if (server.compatibility() == ServerVersion.Compatibility.OTHER_MAJOR) {
                throw new IncompatibleServerException(server.describe(http.settings().apiUrl().toString()).orElseThrow(),
                        server);
            }
            handshake = !path.equals("/events/in") || server.eventsInHandshake().orElse(false);
        }
        BlockingQueue<JsonNode> incoming = new LinkedBlockingQueue<>();
        WebSocket.Builder builder = http.client().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10));
        http.commonHeaders().forEach(builder::header);
        builder.header("User-Agent", http.userAgent());
        if (cloud) {
            if (http.settings().apiKey() != null) {
                builder.header("Authorization", "bearer " + http.settings().apiKey());
            }
        } else {
            if (handshake) {
                builder.subprotocols("prefect");
            }
            if (http.settings().apiAuthString() != null) {
                http.settings().authorizationHeader().ifPresent(v -> builder.header("Authorization", v));
            }
        }
        WebSocket socket;
        try {
            socket = builder.buildAsync(http.websocketUri(path), new Listener(incoming)).get(15, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String status = cause instanceof java.net.http.WebSocketHandshakeException h
                    ? " (HTTP " + h.getResponse().statusCode() + ")" : "";
            throw new IllegalStateException("event socket " + path + " refused" + status + ": " + cause.getMessage(), cause);
        }
        Connection connection = new Connection(socket, incoming);
        if (handshake) {
            ObjectNode auth = JsonNodeFactory.instance.objectNode().put("type", "auth");
            String token = http.settings().apiAuthString() != null ? http.settings().apiAuthString() : http.settings().apiKey();
            if (token == null) {
                auth.putNull("token");
            } else {
                auth.put("token", token);
            }
            connection.send(auth);
            JsonNode answer = connection.next(Duration.ofSeconds(10));
            if (answer == null || !"auth_success".equals(answer.path("type").asText())) {
                connection.close();
                String what = answer == null ? "no answer to the auth message within 10 s"
                        : answer == CLOSED ? "the server closed the socket after the auth message"
                        : "the server answered the auth message with " + abbreviate(answer.toString());
                throw new IllegalStateException("unable to authenticate to the event stream " + path + " (" + what
                        + "); check PREFECT_API_KEY / PREFECT_API_AUTH_STRING");
            }
        }
        return connection;
    }

    private static String abbreviate(String text) {
        return text.length() > 120 ? text.substring(0, 120) + "…" : text;
    }

    private static final class Listener implements WebSocket.Listener {
        private final BlockingQueue<JsonNode> incoming;
        private final StringBuilder partial = new StringBuilder();

        Listener(BlockingQueue<JsonNode> incoming) {
            this.incoming = incoming;
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    incoming.add(JSON.readTree(partial.toString()));
                } catch (Exception e) {
                    incoming.add(JsonNodeFactory.instance.textNode(partial.toString()));
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            incoming.add(CLOSED);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            incoming.add(CLOSED);
        }
    }
}
