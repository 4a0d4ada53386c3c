package io.pworker.testkit;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A small HTTP/1.1 server with WebSocket upgrades on one loopback port. The JDK's HttpServer cannot hand a
 * connection over to a WebSocket, and Prefect serves both under the same base URL, so the fake needs this.
 * One virtual thread per connection; keep-alive; Content-Length and chunked request bodies.
 */
final class HttpTransport implements AutoCloseable {

    record Request(String method, String target, Map<String, String> headers, byte[] body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    record Response(int status, Map<String, String> headers, byte[] body) {
    }

    interface Handler {
        /** Answers an HTTP request. */
        Response handle(Request request);

        /** Decides on an upgrade: a status other than 101 refuses it. */
        int upgradeStatus(Request request);

        /** The subprotocol to select for an accepted upgrade, or null to select none. */
        default String subprotocol(Request request) {
            String protocols = request.header("sec-websocket-protocol");
            return protocols != null && protocols.contains("prefect") ? "prefect" : null;
        }

        /** Runs a WebSocket session; returns when it ends. */
        void session(Request request, WebSocketSession session) throws IOException;
    }

    private final ServerSocket server;
    private final Handler handler;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    HttpTransport(Handler handler) throws IOException {
        this.handler = handler;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        this.acceptor = Thread.ofPlatform().daemon().name("fake-prefect-accept").start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket socket = server.accept();
                open.add(socket);
                Thread.ofVirtual().name("fake-prefect-conn").start(() -> serve(socket));
            } catch (IOException e) {
                if (!closed) {
                    continue;
                }
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            // like uvicorn: no Nagle, and each response leaves in one write, so a client's delayed ACK costs nothing
            socket.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = new java.io.BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
            while (!closed) {
                Request request = read(in);
                if (request == null) {
                    return;
                }
                if ("websocket".equalsIgnoreCase(request.header("upgrade"))) {
                    int status = handler.upgradeStatus(request);
                    if (status != 101) {
                        write(out, new Response(status, Map.of("Content-Type", "application/json"),
                                "{\"detail\":\"refused\"}".getBytes(StandardCharsets.UTF_8)), true);
                        return;
                    }
                    String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest(
                            (request.header("sec-websocket-key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                    .getBytes(StandardCharsets.US_ASCII)));
                    StringBuilder head = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            + "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n");
                    String protocol = handler.subprotocol(request);
                    if (protocol != null) {
                        head.append("Sec-WebSocket-Protocol: ").append(protocol).append("\r\n");
                    }
                    out.write(head.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    handler.session(request, new WebSocketSession(socket, in, out));
                    return;
                }
                Response response = handler.handle(request);
                boolean close = "close".equalsIgnoreCase(request.header("connection"));
                write(out, response, close);
                if (close) {
                    return;
                }
            }
        } catch (Exception e) {
            // the client went away
        } finally {
            open.remove(socket);
        }
    }

    private static Request read(InputStream in) throws IOException {
        String line = readLine(in);
        while (line != null && line.isEmpty()) {
            line = readLine(in);
        }
        if (line == null) {
            return null;
        }
        String[] parts = line.split(" ");
        if (parts.length < 2) {
            throw new IOException("bad request line: " + line);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        String h;
        while ((h = readLine(in)) != null && !h.isEmpty()) {
            int colon = h.indexOf(':');
            if (colon > 0) {
                headers.merge(h.substring(0, colon).strip().toLowerCase(Locale.ROOT), h.substring(colon + 1).strip(),
                        (a, b) -> a + ", " + b);
            }
        }
        byte[] body = new byte[0];
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            while (true) {
                String size = readLine(in);
                if (size == null) {
                    throw new IOException("truncated chunked body");
                }
                int n = Integer.parseInt(size.split(";")[0].strip(), 16);
                if (n == 0) {
                    readLine(in);
                    break;
                }
                buf.write(in.readNBytes(n));
                readLine(in);
            }
            body = buf.toByteArray();
        } else if (headers.containsKey("content-length")) {
            body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
        }
        return new Request(parts[0], parts[1], headers, body);
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                byte[] b = buf.toByteArray();
                int len = b.length > 0 && b[b.length - 1] == '\r' ? b.length - 1 : b.length;
                return new String(b, 0, len, StandardCharsets.ISO_8859_1);
            }
            buf.write(c);
        }
        return buf.size() == 0 ? null : buf.toString(StandardCharsets.ISO_8859_1);
    }

    private static void write(OutputStream out, Response r, boolean close) throws IOException {
        StringBuilder head = new StringBuilder("HTTP/1.1 ").append(r.status()).append(' ').append(reason(r.status()))
                .append("\r\n");
        r.headers().forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        if (r.status() != 204) {
            head.append("Content-Length: ").append(r.body().length).append("\r\n");
        }
        if (close) {
            head.append("Connection: close\r\n");
        }
        head.append("\r\n");
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (r.status() != 204) {
            out.write(r.body());
        }
        out.flush();
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 201 -> "Created";
            case 204 -> "No Content";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 409 -> "Conflict";
            case 422 -> "Unprocessable Entity";
            case 429 -> "Too Many Requests";
            case 503 -> "Service Unavailable";
            default -> "Status";
        };
    }

    /** Abruptly closes every open connection (WebSockets included), as a crashing server would. */
    void dropConnections(java.util.function.Predicate<Socket> which) {
        for (Socket s : open) {
            if (which.test(s)) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // already closed
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        dropConnections(s -> true);
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
