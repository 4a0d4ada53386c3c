package io.pworker.systemd;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service-manager side of {@code sd_notify(3)}: where to send notifications ({@code NOTIFY_SOCKET}) and how
 * often systemd wants a watchdog ping ({@code WATCHDOG_USEC}, for this process only when {@code WATCHDOG_PID}
 * names it). Outside systemd there is no socket and every method does nothing, so callers need no checks.
 * A failed send is logged once and never stops the worker: notifications are advice to systemd, not work.
 */
public final class SystemdNotifier implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SystemdNotifier.class);
    private static final SystemdNotifier NONE = new SystemdNotifier(null, null);

    private final NotifySocket socket;
    private final Duration watchdog;
    private boolean warned;

    private SystemdNotifier(NotifySocket socket, Duration watchdog) {
        this.socket = socket;
        this.watchdog = watchdog;
    }

    /** A notifier for the environment the worker runs in; a silent one when systemd did not ask for notifications. */
    public static SystemdNotifier fromEnvironment(Map<String, String> env) {
        String address = env.get("NOTIFY_SOCKET");
        if (address == null || address.isBlank()) {
            return NONE;
        }
        try {
            return new SystemdNotifier(NotifySocket.open(address), watchdogInterval(env, ProcessHandle.current().pid())
                    .orElse(null));
        } catch (IOException | RuntimeException | LinkageError e) {
            // junixsocket loads a native library; a system where it cannot load still runs the worker
            log.warn("Cannot notify systemd through NOTIFY_SOCKET={}: {}", address, e.toString());
            return NONE;
        }
    }

    /** {@code WATCHDOG_USEC}, unless {@code WATCHDOG_PID} says the watchdog is another process's. */
    public static Optional<Duration> watchdogInterval(Map<String, String> env, long pid) {
        String usec = env.get("WATCHDOG_USEC");
        String forPid = env.get("WATCHDOG_PID");
        if (usec == null || usec.isBlank() || (forPid != null && !forPid.isBlank() && !forPid.trim().equals(Long.toString(pid)))) {
            return Optional.empty();
        }
        try {
            long micros = Long.parseLong(usec.trim());
            return micros > 0 ? Optional.of(Duration.ofNanos(micros * 1000)) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    public boolean enabled() {
        return socket != null;
    }

    /** How often systemd expects {@code WATCHDOG=1}; empty when it does not watch this process. */
    public Optional<Duration> watchdog() {
        return Optional.ofNullable(watchdog);
    }

    public void send(String message) {
        if (socket == null) {
            return;
        }
        try {
            socket.send(message);
        } catch (IOException e) {
            synchronized (this) {
                if (!warned) {
                    warned = true;
                    log.warn("Cannot notify systemd: {}", e.toString());
                }
            }
        }
    }

    @Override
    public void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException e) {
                // nothing left to tell systemd
            }
        }
    }
}
