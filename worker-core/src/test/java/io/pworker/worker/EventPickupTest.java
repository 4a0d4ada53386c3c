package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.spi.LaunchRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs are picked up when the pool's scheduled-run events say so, not at the next poll; the poll stays the
 * safety net. The bounds are generous (a loaded CI machine): they only prove which path found the run.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class EventPickupTest {

    /** Far longer than any bound below: a claim within the bound came from an event, not from a poll. */
    private static final String SLOW_POLL = "60";
    private static final Duration EVENT_BOUND = Duration.ofSeconds(5);

    private final CoreHarness h = new CoreHarness(new StubPlugin());

    @AfterEach
    void tearDown() {
        h.close();
    }

    private long polls() {
        return h.prefect.requests().stream().filter(r -> r.path().endsWith("/get_scheduled_flow_runs")).count();
    }

    private boolean claimed(String id) {
        String type = h.prefect.stateType(id);
        return !type.equals("SCHEDULED") && !type.isEmpty();
    }

    @Test
    void aScheduledRunIsClaimedWithinSecondsAtASixtySecondPollInterval() throws Exception {
        h.start("w1", "PREFECT_WORKER_QUERY_SECONDS", SLOW_POLL);
        await(Duration.ofSeconds(20), () -> h.prefect.eventSubscriberCount() == 1 && polls() == 1, "subscribed, first poll");
        String dep = h.deployment("{}");
        // idle: the subscription alone asks nothing of the API
        Thread.sleep(1_000);
        assertThat(polls()).isEqualTo(1);

        for (int i = 0; i < 3; i++) {
            String id = h.prefect.createFlowRun(dep, "{}");
            await(EVENT_BOUND, () -> claimed(id), "run " + i + " claimed after its Scheduled event");
        }
        // one poll per event (or fewer), not a poll loop
        assertThat(polls()).isBetween(2L, 4L);
        h.prefect.assertNoContractViolations();
    }

    @Test
    void aRunOfAQueueTheWorkerDoesNotServeDoesNotWakeThePoll() throws Exception {
        h.prefect.createWorkQueue("pool", "other");
        Worker w = h.create(WorkerOptions.of("pool", "stub").withName("q").withWorkQueues(List.of("default")),
                h.settings("PREFECT_WORKER_QUERY_SECONDS", SLOW_POLL));
        w.start();
        await(Duration.ofSeconds(20), () -> h.prefect.eventSubscriberCount() == 1 && polls() == 1, "subscribed, first poll");
        String dep = h.deployment("{}");
        h.prefect.createFlowRun(dep, CoreHarness.json("{}"), java.time.Instant.now(), "other");
        Thread.sleep(1_500);
        assertThat(polls()).isEqualTo(1);
        String served = h.prefect.createFlowRun(dep, "{}");
        await(EVENT_BOUND, () -> claimed(served), "the served queue's run claimed after its event");
    }

    @Test
    void withoutTheEventSocketThePollStillFindsRuns() throws Exception {
        h.prefect.setEventsSocketEnabled(false);
        h.start("w1", "PREFECT_WORKER_QUERY_SECONDS", "2");
        await(Duration.ofSeconds(20), () -> polls() >= 1 && h.prefect.upgradeCount("/events/out") >= 1, "socket refused");
        String id = h.prefect.createFlowRun(h.deployment("{}"), "{}");
        await(Duration.ofSeconds(20), () -> claimed(id), "run claimed by the poll");
        assertThat(h.prefect.eventSubscriberCount()).isZero();
    }

    @Test
    void twoWorkersWokenByTheSameEventsClaimEveryRunOnce() throws Exception {
        Path otherState = Files.createTempDirectory("pworker-second");
        h.start("w1", "PREFECT_WORKER_QUERY_SECONDS", SLOW_POLL);
        h.start("w2", "PREFECT_WORKER_QUERY_SECONDS", SLOW_POLL, "PWORKER_STATE_DIR", otherState.toString());
        await(Duration.ofSeconds(20), () -> h.prefect.eventSubscriberCount() == 2, "both subscribed");
        String dep = h.deployment("{}");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            ids.add(h.prefect.createFlowRun(dep, "{}"));
        }
        await(Duration.ofSeconds(30), () -> ids.stream().allMatch(this::claimed), "all claimed");
        await(Duration.ofSeconds(30), () -> h.stub.launched.size() >= ids.size(), "all launched");
        Thread.sleep(500);
        Map<String, Long> launches = h.stub.launched.stream()
                .collect(Collectors.groupingBy((LaunchRequest r) -> r.run().id(), Collectors.counting()));
        assertThat(launches.keySet()).containsExactlyInAnyOrderElementsOf(ids);
        assertThat(launches.values()).allMatch(n -> n == 1);
        h.prefect.assertNoContractViolations();
    }
}
