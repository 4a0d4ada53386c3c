package io.pworker.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * pworker against a real Prefect 3.4.25 server, plus a burst of runs: under load the server's SQLite database
 * answers 503 "database is locked" now and then, and a worker must ride that out rather than crash runs.
 */
class Prefect34ServerTest extends RealPrefectServerContract {

    /** Runs in the burst; {@code -Dpworker.it.burst=N} for a quicker local run (CI uses the default). */
    static final int BURST = Integer.getInteger("pworker.it.burst", 300);

    @Override
    String version() {
        return PrefectRef.V34;
    }

    @Override
    boolean acceptsSubmitting() {
        return false;
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void aBurstOfRunsWithDefaultSettingsCrashesNone() throws Exception {
        String pool = "it-burst-" + suffix;
        // every run is waiting before the worker starts, so its first poll claims all of them at once
        api.createWorkPool(pool, "process", bundledTemplate("worker-process", "io/pworker/process/base-job-template.json"));
        String dep = api.createDeployment(flowId, "burst-" + suffix, pool, null, null, jobVariables("command", "/bin/true"));
        long t0 = System.nanoTime();
        // two at a time: faster than one, and more only makes SQLite lock up
        try (ExecutorService creators = Executors.newFixedThreadPool(2)) {
            List<Future<String>> ids = new ArrayList<>();
            for (int i = 0; i < BURST; i++) {
                ids.add(creators.submit(() -> api.createFlowRun(dep)));
            }
            for (Future<String> id : ids) {
                id.get();
            }
        }
        long created = System.nanoTime();
        ObjectNode filter = PrefectApi.object();
        filter.putObject("deployment_id").putArray("any_").add(dep);
        // nothing but the API URL: default poll interval, prefetch, retries, heartbeat
        try (Pworker w = Pworker.start(pool, "process", "it-burst-" + suffix, Map.of("PREFECT_API_URL", server.apiUrl()))) {
            // a slow poll: these filter calls load the same database the worker is writing to
            Await.until(Duration.ofSeconds(200), Duration.ofSeconds(2), () -> api.flowRuns(filter).stream().allMatch(Prefect34ServerTest::settled),
                    () -> BURST + " runs launched or ended" + diagnostics(w) + " (" + summary(filter) + ")");
            long launched = System.nanoTime();
            // a crash is proposed when a launched process exits non-zero; give the last exits time to be reported
            Thread.sleep(3000);
            List<JsonNode> runs = api.flowRuns(filter);
            System.err.printf("[worker-it] burst on %s: %d runs created in %.1f s; the worker launched them all in %.1f s%n",
                    version(), runs.size(), (created - t0) / 1e9, (launched - created) / 1e9);
            assertThat(runs).hasSize(BURST);
            assertThat(runs).filteredOn(r -> !r.path("state").path("type").asText().equals("PENDING"))
                    .extracting(r -> r.path("id").asText() + " " + r.path("state").path("type").asText() + ": "
                            + r.path("state").path("message").asText())
                    .as("runs not left PENDING by a launched /bin/true (nothing reports for it)" + diagnostics(w))
                    .isEmpty();
            assertThat(runs).allSatisfy(r -> assertThat(r.path("infrastructure_pid").asText("")).matches("\\d+"));
        }
    }

    /** Launched (it has a pid) or ended: nothing more will happen to it. */
    private static boolean settled(JsonNode run) {
        return !run.path("infrastructure_pid").asText("").isEmpty() || FINAL.contains(run.path("state").path("type").asText());
    }

    private String summary(ObjectNode filter) {
        try {
            return api.flowRuns(filter).stream().collect(Collectors.groupingBy(
                    r -> r.path("state").path("name").asText() + (r.path("infrastructure_pid").asText("").isEmpty() ? "" : "+pid"),
                    Collectors.counting())).toString();
        } catch (Exception e) {
            return e.toString();
        }
    }
}
