package io.pworker.api;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.LogCapture;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The event sockets against the Prefect API fake playing a 3.4.25 or a 3.8.3 server, whose socket rules were
 * measured on the real ones: auth on {@code /events/in} only from 3.7.0, always on {@code /events/out}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventSocketsTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(15);

    private FakePrefectServer prefect;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void setUp() {
        prefect = FakePrefectServer.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closeables.reversed()) {
            c.close();
        }
        prefect.close();
    }

    private PrefectHttp http(String... settings) throws Exception {
        Map<String, String> values = prefect.workerSettings(settings);
        PrefectHttp http = new PrefectHttp(Settings.from(values), "w1", "test");
        closeables.add(http);
        return http;
    }

    private EventEmitter emitter(PrefectHttp http) {
        EventEmitter emitter = new EventEmitter(http, Clock.systemUTC());
        closeables.add(emitter);
        return emitter;
    }

    private static void started(EventEmitter emitter) {
        emitter.emit("prefect.worker.started", Map.of("prefect.resource.id", "prefect.worker.stub.w1"), List.of(), null);
    }

    private long versionRequests() {
        return prefect.requests().stream().filter(r -> r.path().equals("/admin/version")).count();
    }

    @ParameterizedTest(name = "Prefect {0}")
    @ValueSource(strings = {"3.4.25", "3.8.3"})
    void workerEventsReachBothServerLines(String version) throws Exception {
        prefect.setServerVersion(version);
        EventEmitter emitter = emitter(http());
        started(emitter);
        started(emitter);
        await(WAIT, () -> prefect.eventCount("prefect.worker.started") == 2, "two events on " + version);
        // the fake records an auth message sent to 3.4.25, and an event sent to 3.8.3 before auth, as violations
        prefect.assertNoContractViolations();
        assertThat(versionRequests()).isEqualTo(1);
    }

    @ParameterizedTest(name = "Prefect {0} without the version check")
    @ValueSource(strings = {"3.4.25", "3.8.3"})
    void withoutTheVersionCheckEventsGoWithoutTheHandshakeAndStillArrive(String version) throws Exception {
        prefect.setServerVersion(version);
        EventEmitter emitter = emitter(http("PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED", "false"));
        started(emitter);
        await(WAIT, () -> prefect.eventCount("prefect.worker.started") == 1, "event on " + version);
        prefect.assertNoContractViolations();
        assertThat(versionRequests()).isZero();
    }

    @ParameterizedTest(name = "Prefect {0}: {1}")
    @CsvSource({"3.8.3, newer than Prefect 3.4.25", "3.2.1, older than Prefect 3.4.25"})
    void anotherMinorReleaseIsAWarningNamingBothVersionsOnce(String version, String words) throws Exception {
        prefect.setServerVersion(version);
        try (LogCapture log = LogCapture.of(PrefectHttp.class)) {
            PrefectHttp http = http();
            EventEmitter emitter = emitter(http);
            started(emitter);
            await(WAIT, () -> prefect.eventCount("prefect.worker.started") == 1, "event");
            assertThat(http.serverVersion().version()).hasToString(version);
            assertThat(log.messages(Level.WARN)).singleElement().satisfies(m -> assertThat(m)
                    .contains("runs Prefect " + version).contains(words).contains(prefect.apiUrl()));
        }
    }

    @Test
    void aServerOfAnotherMajorVersionGetsNoEventsAndOneClearError() throws Exception {
        prefect.setServerVersion("2.20.16");
        try (LogCapture log = LogCapture.of(EventEmitter.class); LogCapture httpLog = LogCapture.of(PrefectHttp.class)) {
            PrefectHttp http = http();
            EventEmitter emitter = emitter(http);
            for (int i = 0; i < 5; i++) {
                started(emitter);
            }
            await(WAIT, () -> !log.messages(Level.ERROR).isEmpty(), "an error");
            Thread.sleep(300);
            assertThat(log.messages(Level.ERROR)).singleElement().satisfies(m -> assertThat(m)
                    .contains("Prefect 2.20.16").contains("3.4.25").contains("worker events are not sent"));
            assertThat(httpLog.messages(Level.ERROR)).isEmpty();
            assertThat(prefect.upgradeCount("/events/in")).isZero();
            assertThat(versionRequests()).isEqualTo(1);
            // what the worker can call at start to refuse such a server outright
            assertThatThrownBy(() -> new PrefectClient(http).checkServerVersion())
                    .isInstanceOf(IncompatibleServerException.class)
                    .hasMessageContaining("2.20.16").hasMessageContaining("3.4.25");
        }
    }

    @Test
    void anUnreachableVersionCheckIsNotFatalAndIsAskedAgainLater() throws Exception {
        prefect.failNext("GET", "/admin/version", 503, 1, 0);
        PrefectHttp http = http();
        assertThat(http.serverVersion().known()).isFalse();
        assertThat(http.serverVersion().version()).hasToString("3.4.25");
        assertThat(http.serverVersion().version()).hasToString("3.4.25");
        assertThat(versionRequests()).isEqualTo(2);
    }

    @ParameterizedTest(name = "Prefect {0}")
    @ValueSource(strings = {"3.4.25", "3.8.3"})
    void cancellingEventsArriveFromBothServerLines(String version) throws Exception {
        prefect.setServerVersion(version);
        String poolId = prefect.createWorkPool("pool", "process", JSON.readTree("{}"));
        String run = prefect.createFlowRun(prefect.createDeployment(prefect.createFlow("f"), "d", "pool", null), "{}");
        List<String> cancelled = new CopyOnWriteArrayList<>();
        CancellationFeed feed = new CancellationFeed(new PrefectClient(http()), poolId, () -> Set.of(run),
                cancelled::add, Duration.ofSeconds(60), Clock.systemUTC());
        closeables.add(feed);
        await(WAIT, () -> prefect.eventSubscriberCount() == 1, "subscribed");
        prefect.setFlowRunState(run, "CANCELLING", "Cancelling");
        await(WAIT, () -> cancelled.contains(run), "cancelling event");
        assertThat(feed.polling()).isFalse();
        prefect.assertNoContractViolations();
    }

    @Test
    void aServerThatAcceptsAndClosesAtOnceIsAskedAgainWithGrowingPausesNotInALoop() throws Exception {
        String poolId = prefect.createWorkPool("pool", "process", JSON.readTree("{}"));
        String run = prefect.createFlowRun(prefect.createDeployment(prefect.createFlow("f"), "d", "pool", null), "{}");
        prefect.setEventSocketsCloseAtOnce(true);
        PrefectHttp http = http("PREFECT_CLIENT_MAX_RETRIES", "0");
        // a zero poll interval used to mean a reconnect (and a poll) per loop turn, hundreds a second
        CancellationFeed feed = new CancellationFeed(new PrefectClient(http), poolId, () -> Set.of(run), id -> { },
                Duration.ZERO, Clock.systemUTC());
        closeables.add(feed);
        EventEmitter emitter = emitter(http);
        long start = System.nanoTime();
        while (System.nanoTime() - start < Duration.ofMillis(6500).toNanos()) {
            started(emitter);
            Thread.sleep(50);
        }
        // attempts at 0 s, then after ~1, ~2 and ~4 s (±20 %): at most four in 6.5 s
        assertThat(prefect.upgradeCount("/events/out")).isBetween(2L, 4L);
        assertThat(prefect.upgradeCount("/events/in")).isBetween(2L, 4L);
        long polls = prefect.requests().stream().filter(r -> r.path().equals("/flow_runs/filter")).count();
        assertThat(polls).as("cancellation polls at the 1 s floor").isBetween(3L, 14L);
        assertThat(feed.polling()).isTrue();
    }
}
