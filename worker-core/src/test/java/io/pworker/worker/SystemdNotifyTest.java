package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.settings.Settings;
import io.pworker.systemd.SystemdNotifier;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The sd_notify protocol over a real Unix datagram socket, the way systemd receives it. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SystemdNotifyTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void aWorkerIsReadyAfterItsFirstPollPingsTheWatchdogAndSaysWhenItStops(@TempDir Path dir) throws Exception {
        try (CoreHarness h = new CoreHarness(new StubPlugin()); NotifyReceiver systemd = NotifyReceiver.at(dir.resolve("notify"))) {
            Map<String, String> env = Map.of("NOTIFY_SOCKET", systemd.address, "WATCHDOG_USEC", "400000",
                    "PWORKER_STATE_DIR", dir.resolve("state").toString());
            Worker w = Worker.create(Settings.from(h.settings()), WorkerOptions.of("pool", "stub").withName("w1")
                    .withLimit(3), new PluginRegistry(List.of(h.stub)), env,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Clock.systemUTC());
            w.start();

            assertThat(systemd.await(a -> a.contains("READY=1"), WAIT)).as(systemd.messages.toString()).isTrue();
            List<String> beforeReady = systemd.assignments().subList(0, systemd.assignments().indexOf("READY=1"));
            assertThat(beforeReady).allMatch(a -> !a.startsWith("STATUS=Serving"));
            assertThat(systemd.await(a -> a.stream().filter("WATCHDOG=1"::equals).count() >= 3, WAIT)).isTrue();
            assertThat(systemd.assignments()).contains("STATUS=Serving work pool 'pool' (stub): 0 flow runs in flight (limit 3)");

            w.stop();
            assertThat(systemd.await(a -> a.contains("STOPPING=1"), WAIT)).isTrue();
            int pings = (int) systemd.assignments().stream().filter("WATCHDOG=1"::equals).count();
            Thread.sleep(300);
            assertThat(systemd.assignments().stream().filter("WATCHDOG=1"::equals).count()).isEqualTo(pings);
        }
    }

    @Test
    void aWedgedLoopStopsThePingsAndARecoveredOneResumesThem() throws Exception {
        try (NotifyReceiver systemd = NotifyReceiver.abstractNamespace("pworker-test-" + UUID.randomUUID())) {
            SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", systemd.address,
                    "WATCHDOG_USEC", "20000000"));
            MovableClock clock = new MovableClock();
            LoopBeat poll = new LoopBeat("poll", Duration.ofSeconds(10), Duration.ofSeconds(60), clock);
            LoopBeat sync = new LoopBeat("sync", Duration.ofSeconds(30), Duration.ofSeconds(60), clock);
            AtomicReference<Instant> polled = new AtomicReference<>(clock.instant());
            var summary = new ServiceNotifications.Summary("pool", "process", null, () -> 1, polled::get,
                    Duration.ofSeconds(10));
            ServiceNotifications n = new ServiceNotifications(notifier, summary, List.of(sync, poll), clock);

            n.tick();
            assertThat(systemd.await(a -> a.contains("WATCHDOG=1"), WAIT)).isTrue();
            assertThat(systemd.assignments()).doesNotContain("READY=1");

            // the poll answers: ready; then only the poll loop goes round while the sync loop hangs
            clock.advance(Duration.ofSeconds(10));
            polled.set(clock.instant());
            poll.around(() -> { }).run();
            sync.around(() -> { }).run();
            n.tick();
            assertThat(systemd.await(a -> a.contains("READY=1")
                    && a.contains("STATUS=Serving work pool 'pool' (process): 1 flow run in flight"), WAIT)).isTrue();
            for (int i = 0; i < 13; i++) {
                clock.advance(Duration.ofSeconds(10));
                polled.set(clock.instant());
                poll.around(() -> { }).run();
                n.tick();
            }
            assertThat(systemd.await(a -> a.contains(
                    "STATUS=The sync loop is stuck; waiting for the watchdog to restart pworker"), WAIT)).isTrue();
            int pings = systemd.messages.size();
            long watchdogs = systemd.assignments().stream().filter("WATCHDOG=1"::equals).count();
            for (int i = 0; i < 5; i++) {
                clock.advance(Duration.ofSeconds(10));
                poll.around(() -> { }).run();
                n.tick();
            }
            Thread.sleep(200);
            assertThat(systemd.assignments().stream().filter("WATCHDOG=1"::equals).count()).isEqualTo(watchdogs);
            assertThat(systemd.messages.size()).isEqualTo(pings);

            sync.around(() -> { }).run();
            n.tick();
            assertThat(systemd.await(a -> a.stream().filter("WATCHDOG=1"::equals).count() > watchdogs, WAIT)).isTrue();
            n.stopping();
            assertThat(systemd.await(a -> a.contains("STOPPING=1"), WAIT)).isTrue();
        }
    }

    @Test
    void withoutNotifySocketNothingIsSentAndTheWatchdogBelongsToItsPid() {
        assertThat(SystemdNotifier.fromEnvironment(Map.of()).enabled()).isFalse();
        SystemdNotifier.fromEnvironment(Map.of()).send("READY=1");
        assertThat(SystemdNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000"), 7)).contains(Duration.ofSeconds(30));
        assertThat(SystemdNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "8"), 7)).isEmpty();
        assertThat(SystemdNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "7"), 7)).isPresent();
        assertThat(SystemdNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "x"), 7)).isEmpty();
    }

    @Test
    void theStallAllowanceIsASettingWithASafeDefault() {
        assertThat(LoopBeat.allowance(null)).isEqualTo(Duration.ofSeconds(300));
        assertThat(LoopBeat.allowance(" 45 ")).isEqualTo(Duration.ofSeconds(45));
        assertThat(LoopBeat.allowance("0")).isEqualTo(Duration.ofSeconds(300));
        assertThat(LoopBeat.allowance("soon")).isEqualTo(Duration.ofSeconds(300));
    }

    /** A clock the test moves by hand, so that a stall needs no real waiting. */
    static final class MovableClock extends Clock {
        private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}
