package io.pworker.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The real distribution against one real Prefect server, started once for the class from an empty database, and
 * checked only through that server's own REST API. One subclass per server version.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 150, unit = TimeUnit.SECONDS)
abstract class RealPrefectServerContract {

    static final Duration RUN_WAIT = Duration.ofSeconds(120);
    static final Set<String> FINAL = Set.of("COMPLETED", "FAILED", "CRASHED", "CANCELLED");

    /** Unique names, so that nothing here meets another test's pool, worker or container. */
    final String suffix = UUID.randomUUID().toString().substring(0, 8);
    final String processPool = "it-process-" + suffix;

    /** Why this class cannot run here (outside CI each test is then skipped with it), or null. */
    String unmet;
    PrefectRef.Server server;
    PrefectApi api;
    Pworker worker;
    Path flowDir;
    String flowId;

    abstract String version();

    /** Whether this server takes the worker's second PENDING state, "Submitting" (3.8 does; 3.4 aborts it). */
    abstract boolean acceptsSubmitting();

    /** How workers of these tests are configured: quick polls; the rest as the server and pworker default. */
    Map<String, String> settings(String... extra) {
        Map<String, String> s = new HashMap<>(Map.of("PREFECT_API_URL", server.apiUrl(),
                "PREFECT_WORKER_QUERY_SECONDS", "1", "PWORKER_KILL_GRACE_SECONDS", "5"));
        for (int i = 0; i < extra.length; i += 2) {
            s.put(extra[i], extra[i + 1]);
        }
        return s;
    }

    @BeforeAll
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void startServerAndWorker() throws Exception {
        unmet = PrefectRef.unavailable();
        if (unmet == null) {
            try {
                server = PrefectRef.start(version());
            } catch (IOException e) {
                unmet = "the Prefect " + version() + " server did not start: " + e.getMessage();
            }
        }
        Preconditions.failInCi(unmet);
        if (unmet != null) {
            return;
        }
        api = new PrefectApi(server.apiUrl());
        // prefect-ref shows the host's /tmp at the same path inside, and the docker run mounts it at that path too
        flowDir = Files.createTempDirectory(Path.of("/tmp"), "pworker-it-flows-");
        try (InputStream in = getClass().getResourceAsStream("flows.py")) {
            Files.copy(in, flowDir.resolve("flows.py"));
        }
        flowId = api.createFlow("it-flow");
        worker = Pworker.start(processPool, "process", "it-process-" + suffix, settings());
        awaitPool(processPool, worker);
    }

    @BeforeEach
    void skipWhenUnmet() {
        Preconditions.require(unmet);
    }

    @AfterAll
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void stopAll() throws IOException {
        if (worker != null) {
            worker.close();
        }
        if (server != null) {
            server.close();
        }
        if (flowDir != null) {
            try (Stream<Path> files = Files.walk(flowDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    // ---- the pool, the worker -----------------------------------------------------------------------------

    @Test
    void thePoolPworkerCreatesHasTheTemplateThatPrefectsCliGivesAProcessPool() throws Exception {
        JsonNode ours = api.workPool(processPool).orElseThrow();
        assertThat(ours.path("type").asText()).isEqualTo("process");
        String cliPool = "cli-process-" + suffix;
        PrefectRef.prefect(version(), server.apiUrl(), "work-pool", "create", cliPool, "--type", "process");
        JsonNode theirs = api.workPool(cliPool).orElseThrow();
        // the same variables, types, defaults and job configuration; pworker words the descriptions for itself
        assertThat(withoutDescriptions(ours.path("base_job_template")))
                .isEqualTo(withoutDescriptions(theirs.path("base_job_template")));
        assertThat(ours.path("base_job_template")).isEqualTo(bundledTemplate("worker-process", "io/pworker/process/base-job-template.json"));
    }

    @Test
    void theWorkerIsOnlineAfterItsHeartbeat() throws Exception {
        Await.until(Duration.ofSeconds(30), () -> "ONLINE".equals(workerRow(processPool, worker.name()).path("status").asText()),
                () -> "worker " + worker.name() + " ONLINE in " + processPool + diagnostics(worker));
        JsonNode row = workerRow(processPool, worker.name());
        assertThat(row.path("last_heartbeat_time").asText()).isNotEmpty();
        assertThat(row.path("heartbeat_interval_seconds").asInt()).isEqualTo(30);
    }

    // ---- runs ---------------------------------------------------------------------------------------------

    @Test
    void aRunOfRealFlowCodeCompletes() throws Exception {
        String dep = api.createDeployment(flowId, "hello-" + suffix, processPool, flowDir.toString(), "flows.py:hello",
                jobVariables("command", PrefectRef.flowRunExecuteCommand(version())));
        String run = api.createFlowRun(dep);
        awaitFinal(run, "COMPLETED", worker);
        List<String> names = api.states(run).stream().map(s -> s.path("name").asText()).toList();
        assertThat(names).containsSubsequence("Scheduled", "Pending", "Running", "Completed");
        if (acceptsSubmitting()) {
            assertThat(names).containsSubsequence("Pending", "Submitting", "Running");
        } else {
            assertThat(names).doesNotContain("Submitting");
        }
        assertThat(api.flowRun(run).path("infrastructure_pid").asText()).matches("\\d+");
        // the flow's own print, logged by Prefect's engine: the flow code really ran
        Await.until(Duration.ofSeconds(20), () -> messages(run).stream().anyMatch(m -> m.contains("hello from a real flow")),
                () -> "the flow's output in /logs of " + run);
    }

    @Test
    void aCommandThatExitsThreeCrashesTheRunWithTheCode() throws Exception {
        String dep = api.createDeployment(flowId, "exit3-" + suffix, processPool, null, null,
                jobVariables("command", "sh -c 'exit 3'"));
        String run = api.createFlowRun(dep);
        awaitFinal(run, "CRASHED", worker);
        assertThat(api.flowRun(run).path("state").path("message").asText()).contains("non-zero status code 3");
    }

    @Test
    void cancellingARunningFlowCancelsItAndEndsItsProcessGroup() throws Exception {
        Path childPid = flowDir.resolve("child-" + UUID.randomUUID() + ".pid");
        ObjectNode vars = jobVariables("command", PrefectRef.flowRunExecuteCommand(version()));
        vars.putObject("env").put("PWORKER_IT_CHILD_PID", childPid.toString());
        String dep = api.createDeployment(flowId, "sleeper-" + suffix, processPool, flowDir.toString(), "flows.py:sleeper", vars);
        String run = api.createFlowRun(dep);
        Await.until(RUN_WAIT, () -> {
            String type = stateType(run);
            if (FINAL.contains(type)) {
                throw new AssertionError("flow run " + run + " ended " + type + " before it could be cancelled: "
                        + api.flowRun(run).path("state").path("message").asText() + diagnostics(worker));
            }
            return type.equals("RUNNING") && Files.exists(childPid) && Files.size(childPid) > 0;
        },
                () -> "flow run " + run + " RUNNING with its child started (state " + stateTypeOrError(run) + ")" + diagnostics(worker));
        long leader = Long.parseLong(api.flowRun(run).path("infrastructure_pid").asText());
        long child = Long.parseLong(Files.readString(childPid).strip());
        assertThat(Processes.inGroup(leader)).as("the run's process group").contains(leader);
        assertThat(Processes.alive(child)).isTrue();

        JsonNode result = api.setState(run, "CANCELLING", "Cancelling", false);
        assertThat(result.path("status").asText()).isEqualTo("ACCEPT");
        awaitFinal(run, "CANCELLED", worker);
        Await.until(Duration.ofSeconds(30), () -> Processes.inGroup(leader).isEmpty() && !Processes.alive(child),
                () -> "process group " + leader + " gone (left: " + Processes.inGroup(leader) + ", flow's child " + child
                        + " alive: " + Processes.alive(child) + ")");
    }

    @Test
    void theWorkersLogsForARunReachTheApi() throws Exception {
        String dep = api.createDeployment(flowId, "true-" + suffix, processPool, null, null, jobVariables("command", "true"));
        String run = api.createFlowRun(dep);
        Await.until(Duration.ofSeconds(30), () -> messages(run).stream()
                        .anyMatch(m -> m.equals("Worker '" + worker.name() + "' submitting flow run '" + run + "'")),
                () -> "the worker's 'submitting' log of " + run + " in /logs/filter (got " + messagesOrError(run) + ")" + diagnostics(worker));
        Await.until(Duration.ofSeconds(30), () -> messages(run).stream().anyMatch(m -> m.contains("submitted to infrastructure")),
                () -> "the worker's 'submitted' log of " + run);
        assertThat(api.logs(run)).filteredOn(l -> l.path("message").asText().contains("submitting flow run"))
                .allSatisfy(l -> {
                    assertThat(l.path("name").asText()).isEqualTo("prefect.flow_runs.worker");
                    assertThat(l.path("level").asInt()).isEqualTo(20);
                });
    }

    @Test
    void theFourWorkerEventsReachTheServer() throws Exception {
        String pool = "it-events-" + suffix;
        String run;
        Integer exit;
        try (Pworker w = Pworker.start(pool, "process", "it-events-" + suffix, settings())) {
            awaitPool(pool, w);
            String dep = api.createDeployment(flowId, "events-" + suffix, pool, null, null, jobVariables("command", "true"));
            run = api.createFlowRun(dep);
            Await.until(Duration.ofSeconds(30), () -> !api.flowRun(run).path("infrastructure_pid").asText("").isEmpty(),
                    () -> "run " + run + " launched" + diagnostics(w));
            long pid = Long.parseLong(api.flowRun(run).path("infrastructure_pid").asText());
            Await.until(Duration.ofSeconds(30), () -> !Processes.alive(pid), "the run's process " + pid + " ended");
            // the watcher reports the exit at once; a moment more so the stop does not race the executed event
            Thread.sleep(1000);
            exit = w.stop();
        }
        assertThat(exit).as("exit code of a gracefully stopped worker").isEqualTo(0);
        String resource = "prefect.worker.process.it-events-" + suffix;
        List<String> expected = List.of("prefect.worker.started", "prefect.worker.submitted-flow-run",
                "prefect.worker.executed-flow-run", "prefect.worker.stopped");
        // the server persists events in batches, a few seconds apart
        Await.until(Duration.ofSeconds(30), () -> eventNames(resource).containsAll(expected),
                () -> "events " + expected + " of " + resource + " in /events/filter (got " + eventNamesOrError(resource) + ")");
        JsonNode executed = api.events(resource).stream()
                .filter(e -> e.path("event").asText().equals("prefect.worker.executed-flow-run")).findFirst().orElseThrow();
        JsonNode flowRun = Stream.of(PrefectApi.JSON.treeToValue(executed.path("related"), JsonNode[].class))
                .filter(r -> r.path("prefect.resource.id").asText().equals("prefect.flow-run." + run)).findFirst().orElseThrow();
        assertThat(flowRun.path("prefect.infrastructure.status-code").asText()).isEqualTo("0");
    }

    // ---- docker -------------------------------------------------------------------------------------------

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void aDockerRunOfRealFlowCodeInThePrefectImageCompletes() throws Exception {
        Preconditions.require(DockerHost.unavailable());
        String pool = "it-docker-" + suffix;
        try (Pworker w = Pworker.start(pool, "docker", "it-docker-" + suffix, settings("DOCKER_HOST", DockerHost.host()))) {
            awaitPool(pool, w);
            JsonNode created = api.workPool(pool).orElseThrow();
            assertThat(created.path("type").asText()).isEqualTo("docker");
            assertThat(created.path("base_job_template")).isEqualTo(bundledTemplate("worker-docker", "io/pworker/docker/base-job-template.json"));

            ObjectNode vars = jobVariables("image", DockerHost.IMAGE).put("image_pull_policy", "Never").put("network_mode", "host");
            vars.putArray("volumes").add(flowDir + ":" + flowDir);
            if (!PrefectRef.V34.equals(version())) {
                // the image holds 3.4.25 on its PATH and the newer line beside it
                vars.putObject("env").put("PATH", "/opt/prefect-3.8/bin:/usr/local/bin:/usr/bin:/bin")
                        .put("PYTHONPATH", "/opt/prefect-3.8/lib/python3.13/site-packages");
            }
            String dep = api.createDeployment(flowId, "docker-" + suffix, pool, flowDir.toString(), "flows.py:hello", vars);
            String run = api.createFlowRun(dep);
            awaitFinal(run, "COMPLETED", w);
            assertThat(api.flowRun(run).path("infrastructure_pid").asText()).matches(".+:[0-9a-f]{64}");
            Await.until(Duration.ofSeconds(20), () -> messages(run).stream().anyMatch(m -> m.contains("hello from a real flow")),
                    () -> "the flow's output in /logs of " + run);
        } finally {
            DockerHost.removeContainersOf(pool);
        }
    }

    // ---- restart safety: the worker SIGKILLed, its runs taken over by the next one -------------------------

    @Test
    void aProcessThatExitsFourWhileTheWorkerIsDownIsCrashedByTheNextWorker() throws Exception {
        try (Restart r = new Restart("crash", "process", settings())) {
            String run = r.launchAndKill(jobVariables("command", r.waitThenExit(4)));
            long leader = r.leader();
            assertThat(Processes.alive(leader)).as("the run's process outlives its SIGKILLed worker").isTrue();
            r.release();
            Await.until(Duration.ofSeconds(30), () -> !Processes.alive(leader), "the run's process " + leader + " exited");
            try (Pworker w = r.restart()) {
                awaitFinal(run, "CRASHED", w);
                r.awaitRecordGone(run, w);
            }
            assertThat(api.flowRun(run).path("state").path("message").asText())
                    .contains("non-zero status code 4").contains("while the worker was down");
        }
    }

    @Test
    void aRunCancelledWhileTheWorkerIsDownIsStoppedByTheNextWorker() throws Exception {
        try (Restart r = new Restart("cancel", "process", settings())) {
            String run = r.launchAndKill(jobVariables("command", r.waitThenExit(4)));
            long leader = r.leader();
            assertThat(api.setState(run, "CANCELLING", "Cancelling", true).path("status").asText()).isEqualTo("ACCEPT");
            assertThat(Processes.inGroup(leader)).as("the run's process group, with no worker").contains(leader);
            try (Pworker w = r.restart()) {
                awaitFinal(run, "CANCELLED", w);
                Await.until(Duration.ofSeconds(30), () -> Processes.inGroup(leader).isEmpty(),
                        () -> "process group " + leader + " gone (left: " + Processes.inGroup(leader) + ")");
                r.awaitRecordGone(run, w);
            }
        }
    }

    @Test
    void aRunThatCompletedWhileTheWorkerWasDownIsOnlyForgottenByTheNextWorker() throws Exception {
        try (Restart r = new Restart("done", "process", settings())) {
            String run = r.launchAndKill(jobVariables("command", r.waitThenExit(0)));
            long leader = r.leader();
            r.release();
            Await.until(Duration.ofSeconds(30), () -> !Processes.alive(leader), "the run's process " + leader + " exited");
            // what the engine inside would have done
            assertThat(api.setState(run, "COMPLETED", "Completed", true).path("status").asText()).isEqualTo("ACCEPT");
            List<String> before = api.states(run).stream().map(s -> s.path("id").asText()).toList();
            try (Pworker w = r.restart()) {
                r.awaitRecordGone(run, w);
                // the release comes after anything the worker would write; a moment more for a stray late write
                Thread.sleep(2000);
            }
            assertThat(api.states(run).stream().map(s -> s.path("id").asText()).toList())
                    .as("the run's state history, untouched by the new worker").isEqualTo(before);
            assertThat(stateType(run)).isEqualTo("COMPLETED");
        }
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void aContainerThatExitsFourWhileTheWorkerIsDownIsCrashedByTheNextWorker() throws Exception {
        Preconditions.require(DockerHost.unavailable());
        try (Restart r = new Restart("docker", "docker", settings("DOCKER_HOST", DockerHost.host()))) {
            ObjectNode vars = jobVariables("image", DockerHost.IMAGE).put("image_pull_policy", "Never")
                    .put("network_mode", "host").put("command", r.waitThenExit(4));
            vars.putArray("volumes").add(flowDir + ":" + flowDir);
            String run = r.launchAndKill(vars);
            String container = api.flowRun(run).path("infrastructure_pid").asText().replaceFirst(".*:", "");
            assertThat(DockerHost.docker("inspect", "-f", "{{.State.Status}}", container).strip())
                    .as("the run's container outlives its SIGKILLed worker").isEqualTo("running");
            r.release();
            Await.until(Duration.ofSeconds(30), () -> DockerHost.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container)
                    .strip().equals("exited 4"), "container " + container + " exited 4");
            try (Pworker w = r.restart()) {
                awaitFinal(run, "CRASHED", w);
                r.awaitRecordGone(run, w);
            }
            assertThat(api.flowRun(run).path("state").path("message").asText())
                    .contains("non-zero status code 4").contains("while the worker was down");
        }
    }

    /**
     * One restart: a pool and a state directory of its own, a worker that launches a run waiting for a marker
     * file and is then SIGKILLed, and the worker started again (same pool, name and state directory). Closing
     * stops the workers and removes what the run left: its process group (by pid), its containers (by pool).
     */
    final class Restart implements AutoCloseable {
        final String pool;
        final String type;
        final Map<String, String> settings;
        final Path stateDir;
        final Path started;
        final Path marker;
        Pworker first;
        Pworker second;
        Long leader;

        Restart(String what, String type, Map<String, String> base) throws IOException {
            this.pool = "it-restart-" + what + "-" + suffix;
            this.type = type;
            this.stateDir = Files.createTempDirectory("pworker-it-state-");
            this.settings = new HashMap<>(base);
            settings.put("PWORKER_STATE_DIR", stateDir.toString());
            String id = UUID.randomUUID().toString();
            // under flowDir: the same path on the host, inside prefect-ref and in a container that mounts it
            this.started = flowDir.resolve("started-" + id);
            this.marker = flowDir.resolve("marker-" + id);
        }

        /** A command that says it started, waits for the marker, then exits {@code code}. */
        String waitThenExit(int code) {
            return "sh -c 'touch " + started + "; while [ ! -e " + marker + " ]; do sleep 0.2; done; exit " + code + "'";
        }

        /** Starts the first worker, runs a deployment with {@code vars}, SIGKILLs the worker once it runs. */
        String launchAndKill(ObjectNode vars) throws Exception {
            first = Pworker.start(pool, type, pool, settings);
            awaitPool(pool, first);
            String dep = api.createDeployment(flowId, pool, pool, null, null, vars);
            String run = api.createFlowRun(dep);
            Await.until(Duration.ofSeconds(60), () -> Files.exists(started) && !api.flowRun(run).path("infrastructure_pid").asText("").isEmpty(),
                    () -> "run " + run + " launched and its command started (state " + stateTypeOrError(run) + ")" + diagnostics(first));
            if (type.equals("process")) {
                leader = Long.parseLong(api.flowRun(run).path("infrastructure_pid").asText());
            }
            assertThat(record(run)).as("the run's record in " + stateDir).exists();
            if (type.equals("process")) {
                assertThat(filesOf(run)).as("the process plugin's files of the run").hasSizeGreaterThan(2);
            }
            first.sigkill();
            return run;
        }

        long leader() {
            return leader;
        }

        /** Lets the run's command exit. */
        void release() throws IOException {
            Files.createFile(marker);
        }

        Pworker restart() throws IOException {
            second = Pworker.start(pool, type, pool, settings);
            return second;
        }

        Path record(String run) {
            return stateDir.resolve("runs").resolve(run + ".json");
        }

        /** The core's record and lock, and the plugin's files of the run (launch record, exit code, output). */
        List<Path> filesOf(String run) throws IOException {
            try (Stream<Path> files = Files.walk(stateDir)) {
                return files.filter(p -> p.getFileName().toString().contains(run)).toList();
            }
        }

        void awaitRecordGone(String run, Pworker w) {
            Await.until(Duration.ofSeconds(30), () -> filesOf(run).isEmpty(),
                    () -> "the run's record and files removed from " + stateDir + " (left: " + filesOrError(run) + ")" + diagnostics(w));
        }

        String filesOrError(String run) {
            try {
                return filesOf(run).toString();
            } catch (IOException e) {
                return e.toString();
            }
        }

        @Override
        public void close() throws IOException {
            for (Pworker w : new Pworker[] {second, first}) {
                if (w != null) {
                    w.close();
                }
            }
            if (leader != null) {
                for (long pid : Processes.inGroup(leader)) {
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
            if (type.equals("docker")) {
                DockerHost.removeContainersOf(pool);
            }
            Files.deleteIfExists(started);
            Files.deleteIfExists(marker);
            try (Stream<Path> files = Files.walk(stateDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    static ObjectNode jobVariables(String key, String value) {
        return PrefectApi.object().put(key, value);
    }

    void awaitPool(String pool, Pworker w) {
        Await.until(Duration.ofSeconds(60), () -> api.workPool(pool).isPresent(),
                () -> "pool " + pool + " created by pworker" + diagnostics(w));
    }

    JsonNode workerRow(String pool, String name) throws Exception {
        for (JsonNode row : api.workers(pool)) {
            if (row.path("name").asText().equals(name)) {
                return row;
            }
        }
        return PrefectApi.object();
    }

    String stateType(String run) throws Exception {
        return api.flowRun(run).path("state").path("type").asText();
    }

    String stateTypeOrError(String run) {
        try {
            return stateType(run);
        } catch (Exception e) {
            return e.toString();
        }
    }

    /** Waits for {@code expected}; another final state fails at once, with its message. */
    void awaitFinal(String run, String expected, Pworker w) throws Exception {
        Await.until(RUN_WAIT, () -> {
            JsonNode state = api.flowRun(run).path("state");
            String type = state.path("type").asText();
            if (FINAL.contains(type) && !type.equals(expected)) {
                throw new AssertionError("flow run " + run + " ended " + type + " (" + state.path("message").asText()
                        + "), expected " + expected + diagnostics(w));
            }
            return type.equals(expected);
        }, () -> "flow run " + run + " " + expected + " (now " + stateTypeOrError(run) + ")" + diagnostics(w));
    }

    List<String> messages(String run) throws Exception {
        return api.logs(run).stream().map(l -> l.path("message").asText()).toList();
    }

    String messagesOrError(String run) {
        try {
            return messages(run).toString();
        } catch (Exception e) {
            return e.toString();
        }
    }

    List<String> eventNames(String resource) throws Exception {
        return api.events(resource).stream().map(e -> e.path("event").asText()).toList();
    }

    String eventNamesOrError(String resource) {
        try {
            return eventNames(resource).toString();
        } catch (Exception e) {
            return e.toString();
        }
    }

    String diagnostics(Pworker w) {
        return "; worker log " + w.log() + ", server log " + server.log();
    }

    /** A copy without the human-readable "description" of the template and of each variable. */
    static JsonNode withoutDescriptions(JsonNode template) {
        JsonNode copy = template.deepCopy();
        ((ObjectNode) copy.path("variables")).remove("description");
        copy.path("variables").path("properties").forEach(v -> ((ObjectNode) v).remove("description"));
        return copy;
    }

    /**
     * A plugin's default template as the distribution ships it, read from the plugin's jar wherever the layout
     * puts it ({@code lib/}, or a plugin directory of its own).
     */
    static JsonNode bundledTemplate(String artifact, String entry) throws IOException {
        Path dist = Pworker.distribution();
        try (Stream<Path> files = Files.walk(dist)) {
            // "<artifact>-<version>.jar", not "<artifact>-something-else-….jar"
            Path jar = files.filter(p -> {
                String name = p.getFileName().toString();
                return name.startsWith(artifact + "-") && name.endsWith(".jar") && Character.isDigit(name.charAt(artifact.length() + 1));
            }).findFirst().orElseThrow(() -> new AssertionError("no " + artifact + " jar under " + dist));
            try (ZipFile zip = new ZipFile(jar.toFile()); InputStream in = zip.getInputStream(zip.getEntry(entry))) {
                return PrefectApi.JSON.readTree(in);
            }
        }
    }
}
