package io.pworker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.logging.LogFields;
import io.pworker.metrics.WorkerMetrics;
import io.pworker.settings.Settings;
import io.pworker.settings.SettingsException;
import io.pworker.worker.PluginRegistry;
import io.pworker.worker.Worker;
import io.pworker.worker.WorkerException;
import io.pworker.worker.WorkerOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** {@code pworker start}: the flags of {@code prefect worker start}. */
@Command(name = "start", mixinStandardHelpOptions = true, description = "Start a worker for a work pool.")
final class StartCommand implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(StartCommand.class);

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

    @Option(names = "--with-metrics", description = "Serve GET /metrics in Prometheus text on the health server "
            + "(PWORKER_METRICS=true); starts that server as --with-healthcheck does.")
    boolean withMetrics;

    @Option(names = "--base-job-template", description = "JSON template used only when this worker creates the pool.")
    Path baseJobTemplate;

    @Option(names = "--create-pool-if-not-found", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Create the pool when it does not exist (default: true).")
    boolean createPoolIfNotFound;

    @Option(names = "--install-policy", description = "Accepted for compatibility; plugins are installed with pworker.")
    String installPolicy;

    private final java.util.function.Supplier<PluginRegistry> plugins;
    private final Map<String, String> environment;
    private final PrintStream console;
    private final PrintStream err;

    StartCommand() {
        this(System.getenv(), System.out, System.err);
    }

    StartCommand(Map<String, String> environment, PrintStream console, PrintStream err) {
        this(environment, console, err, PluginRegistry::discover);
    }

    /** @param plugins the installed plugins, perhaps being found already */
    StartCommand(Map<String, String> environment, PrintStream console, PrintStream err,
            java.util.function.Supplier<PluginRegistry> plugins) {
        this.plugins = plugins;
        this.environment = Map.copyOf(environment);
        this.console = console;
        this.err = err;
    }

    @Override
    public Integer call() {
        Settings settings;
        Operations operations;
        JsonNode template = null;
        try {
            operations = Operations.from(environment, withMetrics);
            settings = Settings.load(environment);
            Operations.maskCredentials(settings);
            checkFlags(plugins);
            if (baseJobTemplate != null) {
                template = readTemplate(baseJobTemplate);
            }
        } catch (SettingsException e) {
            err.println("Error: " + e.getMessage());
            return Main.USAGE;
        }
        LogSetup.applyLevel(settings.loggingLevel());
        settings.warnings().forEach(log::warn);
        // made here, where the flag is known, and handed down: nothing of Micrometer loads when it is off
        WorkerMetrics metrics = operations.metrics() ? WorkerMetrics.prometheus() : WorkerMetrics.none();
        WorkerOptions options = new WorkerOptions(pool, workQueues, name, type, limit, prefetchSeconds, runOnce,
                withHealthcheck || operations.metrics(), template, createPoolIfNotFound);
        Worker worker;
        try {
            worker = Worker.create(settings, options, plugins.get(), new HashMap<>(environment), console, Clock.systemUTC(),
                    metrics);
            LogFields.worker(worker.name());
            Signals.onStop(worker::stop);
            worker.start();
            if (runOnce) {
                worker.runOnce();
            }
            worker.awaitStopped();
            return 0;
        } catch (WorkerException e) {
            err.println("Error: " + Main.oneLine(e.getMessage()));
            return Main.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Main.FAILED;
        }
    }

    /** What the worker would refuse later, refused here as the usage error it is (exit 2, not 1). */
    private void checkFlags(java.util.function.Supplier<PluginRegistry> plugins) throws SettingsException {
        if (pool.isBlank()) {
            throw new SettingsException("--pool must not be empty");
        }
        if (prefetchSeconds != null && prefetchSeconds < 0) {
            throw new SettingsException("--prefetch-seconds must not be negative, got " + prefetchSeconds);
        }
        if (limit != null && limit < 1) {
            throw new SettingsException("--limit must be at least 1, got " + limit);
        }
        if (name != null && (name.isBlank() || name.contains("/") || name.contains("%"))) {
            throw new SettingsException("--name '" + name + "' must not be empty nor contain '/' or '%'");
        }
        if (type != null) {
            try {
                plugins.get().require(type, "--type " + type + ": ");
            } catch (WorkerException e) {
                throw new SettingsException(e.getMessage());
            }
        }
    }

    /** Reads {@code --base-job-template}, saying which of the usual ways a file can be wrong this one is. */
    static JsonNode readTemplate(Path file) throws SettingsException {
        String what = "--base-job-template " + file;
        if (!Files.exists(file)) {
            throw new SettingsException(what + ": the file does not exist");
        }
        if (Files.isDirectory(file)) {
            throw new SettingsException(what + ": is a directory, not a JSON file");
        }
        String text;
        try {
            text = Files.readString(file);
        } catch (AccessDeniedException e) {
            throw new SettingsException(what + ": the file cannot be read by this user (permission denied)");
        } catch (CharacterCodingException e) {
            throw new SettingsException(what + ": the file is not UTF-8 text");
        } catch (IOException e) {
            throw new SettingsException(what + ": the file cannot be read: " + e.getMessage());
        }
        JsonNode node;
        try {
            node = new ObjectMapper().readTree(text);
        } catch (JsonProcessingException e) {
            var where = e.getLocation();
            throw new SettingsException(what + ": not valid JSON" + (where == null ? "" : " at line "
                    + where.getLineNr() + ", column " + where.getColumnNr()) + ": " + Main.oneLine(e.getOriginalMessage()));
        }
        if (node == null || node.isMissingNode()) {
            throw new SettingsException(what + ": the file is empty");
        }
        if (!node.isObject() || !node.path("job_configuration").isObject() || !node.path("variables").isObject()) {
            throw new SettingsException(what + ": expected a JSON object with 'job_configuration' and 'variables' objects");
        }
        return node;
    }
}
