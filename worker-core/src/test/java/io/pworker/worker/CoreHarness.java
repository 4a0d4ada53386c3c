package io.pworker.worker;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;

/** A Prefect fake, a stub plugin and the workers a core test starts against them; closed after each test. */
final class CoreHarness implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    final FakePrefectServer prefect = FakePrefectServer.start();
    final StubPlugin stub;
    final String flowId = prefect.createFlow("etl");
    final String poolId;
    private final List<Worker> workers = new ArrayList<>();
    private final List<Runnable> detach = new ArrayList<>();
    final ByteArrayOutputStream console = new ByteArrayOutputStream();

    CoreHarness(StubPlugin stub) {
        this.stub = stub;
        this.poolId = prefect.createWorkPool("pool", "stub", stub.defaultBaseJobTemplate());
    }

    Map<String, String> settings(String... extra) {
        Map<String, String> s = prefect.workerSettings(extra);
        s.putIfAbsent("PREFECT_CLIENT_MAX_RETRIES", "1");
        s.putIfAbsent("PWORKER_KILL_GRACE_SECONDS", "2");
        return s;
    }

    Worker create(WorkerOptions options, Map<String, String> settings) throws Exception {
        Worker w = Worker.create(Settings.from(settings), options, new PluginRegistry(List.of(stub)), Map.of(),
                new PrintStream(console, true, StandardCharsets.UTF_8), Clock.systemUTC());
        workers.add(w);
        return w;
    }

    Worker start(String name, String... settings) throws Exception {
        Worker w = create(WorkerOptions.of("pool", "stub").withName(name), settings(settings));
        w.start();
        return w;
    }

    String deployment(String jobVariables) throws Exception {
        return prefect.createDeployment(flowId, "nightly", "pool", JSON.readTree(jobVariables));
    }

    String pid(String runId) {
        return prefect.flowRun(runId).path("infrastructure_pid").asText("");
    }

    /** The run's log lines shipped to the API. */
    List<String> runLogs(String runId) {
        return prefect.logs().stream().filter(l -> runId.equals(l.path("flow_run_id").asText()))
                .map(l -> l.path("message").asText()).toList();
    }

    /** State types the worker (or anyone) proposed for the run, in order. */
    List<String> proposedTypes(String runId) {
        return prefect.stateProposals(runId).stream().map(p -> p.path("state").path("type").asText() + ":"
                + p.path("state").path("name").asText()).toList();
    }

    /** Captures what {@code loggerName} logs from now on. */
    ListAppender<ILoggingEvent> capture(String loggerName) {
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        Logger logger = (Logger) LoggerFactory.getLogger(loggerName);
        logger.addAppender(appender);
        detach.add(() -> logger.detachAppender(appender));
        return appender;
    }

    static List<String> messages(ListAppender<ILoggingEvent> appender) {
        return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    static JsonNode json(String text) throws Exception {
        return JSON.readTree(text);
    }

    @Override
    public void close() {
        workers.forEach(Worker::stop);
        detach.forEach(Runnable::run);
        prefect.close();
    }
}
