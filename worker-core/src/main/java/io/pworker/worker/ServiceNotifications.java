package io.pworker.worker;

import io.pworker.systemd.SystemdNotifier;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells systemd how the worker is doing ({@code Type=notify}): {@code READY=1} once a poll got an answer from the
 * Prefect API (not merely once the JVM runs), {@code WATCHDOG=1} only while every worker loop makes progress,
 * {@code STATUS=} with a one-line summary when it changes, {@code STOPPING=1} when the worker stops. Runs on its
 * own thread, so that a wedged loop cannot also wedge the judgement of it; a frozen JVM sends nothing at all,
 * which the watchdog catches too. Does nothing when systemd did not set {@code NOTIFY_SOCKET}.
 */
final class ServiceNotifications {

    private static final Logger log = LoggerFactory.getLogger(ServiceNotifications.class);

    /** What the status line is made of. */
    record Summary(String pool, String type, Integer limit, IntSupplier inFlight, Supplier<Instant> lastPolled,
            Duration pollInterval) {
    }

    private final SystemdNotifier notifier;
    private final Summary summary;
    private final List<LoopBeat> loops;
    private final Clock clock;
    private final Duration tick;
    private final Instant initialPoll;
    private volatile boolean stopped;
    private boolean ready;
    private String lastStatus = "";
    private Instant lastPing = Instant.MIN;
    private String reportedStall;
    private Thread thread;

    ServiceNotifications(SystemdNotifier notifier, Summary summary, List<LoopBeat> loops, Clock clock) {
        this.notifier = notifier;
        this.summary = summary;
        this.loops = List.copyOf(loops);
        this.clock = clock;
        // ping several times per watchdog period: a late ping is a restart
        Duration quarter = notifier.watchdog().map(w -> w.dividedBy(4)).orElse(Duration.ofSeconds(1));
        this.tick = quarter.compareTo(Duration.ofSeconds(1)) < 0 ? quarter : Duration.ofSeconds(1);
        this.initialPoll = summary.lastPolled().get();
    }

    /** Starts the notifying thread when systemd listens; otherwise nothing happens. */
    static ServiceNotifications start(SystemdNotifier notifier, Summary summary, List<LoopBeat> loops, Clock clock) {
        ServiceNotifications n = new ServiceNotifications(notifier, summary, loops, clock);
        if (notifier.enabled()) {
            log.info("Notifying systemd{}", notifier.watchdog().map(w -> " (watchdog every " + w.toMillis() + " ms)")
                    .orElse(""));
            n.thread = Thread.ofPlatform().daemon().name("pworker-systemd").start(n::run);
        }
        return n;
    }

    private void run() {
        try {
            while (!stopped) {
                tick();
                Thread.sleep(tick);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void tick() {
        StringBuilder message = new StringBuilder();
        if (!ready && !summary.lastPolled().get().equals(initialPoll)) {
            ready = true;
            message.append("READY=1\n");
        }
        Optional<String> stall = stall();
        Instant now = clock.instant();
        if (stall.isEmpty() && notifier.watchdog().isPresent()
                && (lastPing == Instant.MIN || !now.isBefore(lastPing.plus(notifier.watchdog().get().dividedBy(4))))) {
            message.append("WATCHDOG=1\n");
            lastPing = now;
        }
        String status = stall.orElseGet(this::status);
        if (!status.equals(lastStatus)) {
            lastStatus = status;
            message.append("STATUS=").append(status).append('\n');
        }
        if (!message.isEmpty()) {
            notifier.send(message.toString());
        }
    }

    /** A description of the first wedged loop, logged once per wedge. */
    private Optional<String> stall() {
        for (LoopBeat beat : loops) {
            Optional<Duration> since = beat.stalled();
            if (since.isPresent()) {
                if (!beat.loop().equals(reportedStall)) {
                    reportedStall = beat.loop();
                    log.error("The {} loop has made no progress for {} s; withholding the systemd watchdog ping so "
                            + "that systemd restarts the worker", beat.loop(), since.get().toSeconds());
                }
                return Optional.of("The " + beat.loop() + " loop is stuck; waiting for the watchdog to restart pworker");
            }
        }
        reportedStall = null;
        return Optional.empty();
    }

    private String status() {
        if (!ready) {
            return "Waiting for the first answer from the Prefect API (work pool '" + summary.pool() + "')";
        }
        int inFlight = summary.inFlight().getAsInt();
        String runs = inFlight + (inFlight == 1 ? " flow run" : " flow runs") + " in flight"
                + (summary.limit() != null ? " (limit " + summary.limit() + ")" : "");
        Duration age = Duration.between(summary.lastPolled().get(), clock.instant());
        // the age changes every second; only an unusual one is worth a status change
        String api = age.compareTo(summary.pollInterval().multipliedBy(3)) > 0
                ? "; no answer from the Prefect API for " + (age.toSeconds() / 10 * 10) + "+ s" : "";
        return "Serving work pool '" + summary.pool() + "' (" + summary.type() + "): " + runs + api;
    }

    /** Says the worker is stopping and ends the notifications; the service manager then waits for the exit. */
    void stopping() {
        if (stopped) {
            return;
        }
        stopped = true;
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(Duration.ofSeconds(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        notifier.send("STOPPING=1\nSTATUS=Stopping: flow runs are being stopped or handed over");
        notifier.close();
    }
}
