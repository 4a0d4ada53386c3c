package io.pworker.worker;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.newsclub.net.unix.AFUNIXDatagramSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** Plays systemd's side of NOTIFY_SOCKET: a real Unix datagram socket that keeps every message it receives. */
final class NotifyReceiver implements AutoCloseable {

    final List<String> messages = new CopyOnWriteArrayList<>();
    final String address;
    private final AFUNIXDatagramSocket socket;
    private final Thread reader;

    private NotifyReceiver(AFUNIXDatagramSocket socket, String address) {
        this.socket = socket;
        this.address = address;
        this.reader = Thread.ofPlatform().daemon().start(this::read);
    }

    /** Binds a socket in Linux's abstract namespace ({@code @name}), as systemd does for some services. */
    static NotifyReceiver abstractNamespace(String name) throws IOException {
        AFUNIXDatagramSocket s = AFUNIXDatagramSocket.newInstance();
        s.bind(AFUNIXSocketAddress.inAbstractNamespace(name));
        return new NotifyReceiver(s, "@" + name);
    }

    static NotifyReceiver at(java.nio.file.Path path) throws IOException {
        AFUNIXDatagramSocket s = AFUNIXDatagramSocket.newInstance();
        s.bind(AFUNIXSocketAddress.of(path));
        return new NotifyReceiver(s, path.toString());
    }

    private void read() {
        byte[] buffer = new byte[4096];
        while (!socket.isClosed()) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.setSoTimeout(200);
                socket.receive(packet);
                messages.add(new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8));
            } catch (SocketTimeoutException e) {
                // look at isClosed again
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Every assignment received so far ({@code KEY=value}), in order, from all messages. */
    List<String> assignments() {
        return messages.stream().flatMap(m -> m.lines()).filter(l -> !l.isEmpty()).toList();
    }

    boolean await(Predicate<List<String>> condition, Duration timeout) throws InterruptedException {
        Instant end = Instant.now().plus(timeout);
        while (Instant.now().isBefore(end)) {
            if (condition.test(assignments())) {
                return true;
            }
            Thread.sleep(50);
        }
        return condition.test(assignments());
    }

    @Override
    public void close() throws InterruptedException {
        socket.close();
        reader.join(Duration.ofSeconds(2));
    }
}
