package io.pworker.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback port in front of another one that a test can take away ({@link #close()}: new connections are
 * refused and open ones cut, as when a server goes down) and bring back on the same port ({@link #open()}).
 */
public final class TcpProxy implements AutoCloseable {

    private final int targetPort;
    private final int port;
    private final List<SocketChannel> connections = new CopyOnWriteArrayList<>();
    private ServerSocketChannel server;
    private Thread acceptor;

    private TcpProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = bind(0);
        this.port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        this.acceptor = Thread.ofVirtual().name("tcp-proxy-" + port).start(this::accept);
    }

    /** A proxy to {@code 127.0.0.1:targetPort}, open. */
    public static TcpProxy to(int targetPort) {
        try {
            return new TcpProxy(targetPort);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    private static ServerSocketChannel bind(int port) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open();
        s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        return s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    }

    /** Accepts connections again, on the same port. */
    public synchronized void open() {
        if (server != null) {
            return;
        }
        try {
            server = bind(port);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on port " + port + " again", e);
        }
        acceptor = Thread.ofVirtual().name("tcp-proxy-" + port).start(this::accept);
    }

    private void accept() {
        ServerSocketChannel listening = server;
        while (listening.isOpen()) {
            try {
                SocketChannel client = listening.accept();
                SocketChannel target = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort));
                connections.add(client);
                connections.add(target);
                Thread.ofVirtual().start(() -> pipe(client, target));
                Thread.ofVirtual().start(() -> pipe(target, client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pipe(SocketChannel from, SocketChannel to) {
        ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
        try {
            while (from.read(buffer) >= 0) {
                buffer.flip();
                while (buffer.hasRemaining()) {
                    to.write(buffer);
                }
                buffer.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            // one side went away, or close() cut the connection
        } finally {
            connections.remove(from);
        }
    }

    /** Refuses new connections and cuts the open ones. */
    @Override
    public synchronized void close() {
        if (server == null) {
            return;
        }
        try {
            server.close();
            for (SocketChannel c : connections) {
                c.close();
            }
            connections.clear();
            acceptor.join(5_000);
        } catch (IOException e) {
            // closing anyway
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server = null;
    }
}
