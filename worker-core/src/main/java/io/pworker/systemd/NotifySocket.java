package io.pworker.systemd;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The datagram socket systemd reads service notifications from ({@code NOTIFY_SOCKET}). {@code java.net} has
 * Unix stream sockets but no Unix datagram sockets, so junixsocket provides them. One unbound channel is opened
 * once and reused for every message: a ping is one {@code sendto}, not a process.
 */
public final class NotifySocket implements AutoCloseable {

    private final AFUNIXDatagramChannel channel;
    private final SocketAddress target;

    private NotifySocket(AFUNIXDatagramChannel channel, SocketAddress target) {
        this.channel = channel;
        this.target = target;
    }

    /**
     * @param address the value of {@code NOTIFY_SOCKET}: a file system path, or {@code @name} for a socket in
     *                Linux's abstract namespace (systemd uses both)
     */
    public static NotifySocket open(String address) throws IOException {
        if (address == null || address.isEmpty()) {
            throw new IOException("NOTIFY_SOCKET is empty");
        }
        SocketAddress target = address.startsWith("@")
                ? AFUNIXSocketAddress.inAbstractNamespace(address.substring(1))
                : AFUNIXSocketAddress.of(Path.of(address));
        return new NotifySocket(AFUNIXDatagramChannel.open(), target);
    }

    /** Sends one notification; several {@code KEY=value} assignments go in one message separated by newlines. */
    public synchronized void send(String message) throws IOException {
        channel.send(ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)), target);
    }

    @Override
    public synchronized void close() throws IOException {
        channel.close();
    }
}
