package io.pworker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.settings.SettingsException;
import io.pworker.worker.PluginRegistry;
import io.pworker.worker.Worker;
import io.pworker.worker.WorkerException;
import io.pworker.worker.WorkerOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pworker start}: the flags of {@code prefect worker start}. */
@Command(name = "start", mixinStandardHelpOptions = true, description = "Start a worker for a work pool.")
final class StartCommand implements Callable<Integer> {

    @Option(names = {"-p", "--pool"}, required = true, description = "The work pool to serve.")
    String pool;

    @Option(names = {"-q", "--work-queue"}, description = "A work queue to serve (repeatable); default: all queues.")
    List<String> workQueues = new ArrayList<>();

    @Option(names = {"-n", "--name"}, description = "Worker name; default '<WorkerClass> <uuid>'.")
    String name;

    @Option(names = {"-t", "--type"}, description = "Worker type; default: the pool's type.")
    String type;

    @Option(names = {"-l", "--limit"}, description = "Maximum number of flow runs to run at once.")
    Integer limit;

    @Option(names = "--prefetch-seconds", description = "Look-ahead for scheduled runs (PREFECT_WORKER_PREFETCH_SECONDS).")
    Integer prefetchSeconds;

    @Option(names = "--run-once", description = "Poll once, wait for the runs found, then exit.")
    boolean runOnce;

    @Option(names = "--with-healthcheck", description = "Serve GET /health (PREFECT_WORKER_WEBSERVER_HOST/_PORT).")
    boolean withHealthcheck;

    @Option(names = "--base-job-template", description = "JSON template used only when this worker creates the pool.")
    Path baseJobTemplate;

    @Option(names = "--create-pool-if-not-found", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Create the pool when it does not exist (default: true).")
    boolean createPoolIfNotFound;

    @Option(names = "--install-policy", description = "Accepted for compatibility; plugins are installed with pworker.")
    String installPolicy;

    @Override
    public Integer call() {
        Map<String, String> env = System.getenv();
        Settings settings;
        JsonNode template = null;
        try {
            settings = Settings.load(env);
            if (baseJobTemplate != null) {
                template = readTemplate(baseJobTemplate);
            }
        } catch (SettingsException e) {
            System.err.println("Error: " + e.getMessage());
            return 2;
        }
        WorkerOptions options = new WorkerOptions(pool, workQueues, name, type, limit, prefetchSeconds, runOnce,
                withHealthcheck, template, createPoolIfNotFound);
        Worker worker;
        try {
            worker = Worker.create(settings, options, PluginRegistry.discover(), new HashMap<>(env), System.out,
                    Clock.systemUTC());
            Signals.onStop(worker::stop);
            worker.start();
            if (runOnce) {
                worker.runOnce();
            }
            worker.awaitStopped();
            return 0;
        } catch (WorkerException e) {
            System.err.println("Error: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static JsonNode readTemplate(Path file) throws SettingsException {
        try {
            JsonNode node = new ObjectMapper().readTree(Files.readString(file));
            if (node == null || !node.isObject() || !node.path("job_configuration").isObject()
                    || !node.path("variables").isObject()) {
                throw new SettingsException("--base-job-template " + file
                        + ": expected a JSON object with 'job_configuration' and 'variables' objects");
            }
            return node;
        } catch (IOException e) {
            throw new SettingsException("--base-job-template " + file + ": " + e.getMessage(), e);
        }
    }
}
