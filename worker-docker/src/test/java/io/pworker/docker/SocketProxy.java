package io.pworker.docker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP port in front of the engine's unix socket, so a test can reach the engine as {@code tcp://} and
 * then take it away mid-watch by closing the proxy (which also cuts the open connections). It keeps what clients
 * send, so a test can read the requests that reached the engine ({@link #requestBodies}).
 */
final class SocketProxy implements AutoCloseable {

    private final ServerSocketChannel server;
    private final Path target;
    private final List<SocketChannel> open = new CopyOnWriteArrayList<>();
    /** What each connection's client sent, in order. */
    private final List<ByteArrayOutputStream> sent = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private SocketProxy(Path target) throws IOException {
        this.target = target;
        this.server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.acceptor = Thread.ofVirtual().name("socket-proxy").start(this::accept);
    }

    static SocketProxy toUnixSocket(Path socket) throws IOException {
        return new SocketProxy(socket);
    }

    int port() {
        try {
            return ((InetSocketAddress) server.getLocalAddress()).getPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void accept() {
        while (server.isOpen()) {
            try {
                SocketChannel client = server.accept();
                SocketChannel engine = SocketChannel.open(StandardProtocolFamily.UNIX);
                engine.connect(UnixDomainSocketAddress.of(target));
                open.add(client);
                open.add(engine);
                ByteArrayOutputStream tap = new ByteArrayOutputStream();
                sent.add(tap);
                Thread.ofVirtual().start(() -> pipe(client, engine, tap));
                Thread.ofVirtual().start(() -> pipe(engine, client, null));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void pipe(SocketChannel from, SocketChannel to, ByteArrayOutputStream tap) {
        ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
        try {
            while (from.read(buffer) >= 0) {
                buffer.flip();
                if (tap != null) {
                    synchronized (tap) {
                        tap.write(buffer.array(), buffer.position(), buffer.remaining());
                    }
                }
                while (buffer.hasRemaining()) {
                    to.write(buffer);
                }
                buffer.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            // the other side or close() ended the connection
        }
    }

    /** A request a client sent through the proxy: its request line and its body (empty when it had none). */
    record Request(String line, String body) {
    }

    /** The requests sent so far whose request line contains {@code part}, connection by connection. */
    List<Request> requestBodies(String part) {
        List<Request> out = new ArrayList<>();
        for (ByteArrayOutputStream tap : sent) {
            byte[] bytes;
            synchronized (tap) {
                bytes = tap.toByteArray();
            }
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            int at = 0;
            while (true) {
                int headersEnd = text.indexOf("\r\n\r\n", at);
                if (headersEnd < 0) {
                    break;
                }
                List<String> head = List.of(text.substring(at, headersEnd).split("\r\n"));
                int bodyStart = headersEnd + 4;
                StringBuilder body = new StringBuilder();
                String length = header(head, "content-length");
                if (length != null) {
                    at = Math.min(text.length(), bodyStart + Integer.parseInt(length));
                    body.append(text, bodyStart, at);
                } else if ("chunked".equalsIgnoreCase(header(head, "transfer-encoding"))) {
                    at = bodyStart;
                    while (true) {
                        int sizeEnd = text.indexOf("\r\n", at);
                        int size = Integer.parseInt(text.substring(at, sizeEnd).split(";")[0].strip(), 16);
                        at = sizeEnd + 2;
                        if (size == 0) {
                            at = text.indexOf("\r\n", at) + 2;
                            break;
                        }
                        body.append(text, at, at + size);
                        at += size + 2;
                    }
                } else {
                    at = bodyStart;
                }
                if (head.getFirst().contains(part)) {
                    out.add(new Request(head.getFirst(), new String(body.toString().getBytes(StandardCharsets.ISO_8859_1),
                            StandardCharsets.UTF_8)));
                }
            }
        }
        return out;
    }

    private static String header(List<String> head, String name) {
        return head.stream().skip(1).filter(h -> h.regionMatches(true, 0, name + ":", 0, name.length() + 1))
                .map(h -> h.substring(name.length() + 1).strip()).findFirst().orElse(null);
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (SocketChannel c : open) {
            c.close();
        }
        try {
            acceptor.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
