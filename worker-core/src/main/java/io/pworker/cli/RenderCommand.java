package io.pworker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.ApiException;
import io.pworker.settings.Settings;
import io.pworker.settings.SettingsException;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.RunLog;
import io.pworker.worker.JobPreview;
import io.pworker.worker.PluginRegistry;
import java.io.PrintStream;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pworker render}: prints the job configuration the worker would hand its plugin for a deployment and what
 * the plugin would ask its backend for, {@code {"job_configuration": …, "infrastructure": …}}, with credentials
 * masked. {@code infrastructure} is left out when the pool's type has no plugin here (a note on stderr says so)
 * or nothing to show. Exit 2 when the request cannot be rendered as given (job variables the schema refuses, a
 * pool or deployment that does not exist, a configuration the plugin would refuse), 1 when the API cannot be read.
 */
@Command(name = "render", mixinStandardHelpOptions = true,
        description = "Print what a worker would launch for a deployment: the job configuration and what the "
                + "type's plugin would ask its backend for (secrets masked).")
final class RenderCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = {"-p", "--pool"}, required = true, description = "The work pool.")
    String pool;

    @Option(names = {"-d", "--deployment"}, required = true, description = "Deployment id, or 'flow-name/deployment-name'.")
    String deployment;

    @Option(names = "--job-variables", description = "Job variables for the run (a JSON object), over the deployment's.")
    String jobVariables;

    @Option(names = "--flow-run", description = "Render for this existing flow run of the deployment (its own job variables too).")
    String flowRun;

    @Option(names = {"-n", "--name"}, defaultValue = "pworker-render",
            description = "Worker name to render with (it appears in env and labels); default: ${DEFAULT-VALUE}.")
    String name;

    private final Map<String, String> environment;
    private final PrintStream out;
    private final PrintStream err;
    private final Supplier<PluginRegistry> plugins;

    RenderCommand() {
        this(System.getenv(), System.out, System.err);
    }

    RenderCommand(Map<String, String> environment, PrintStream out, PrintStream err) {
        this(environment, out, err, PluginRegistry::discover);
    }

    /** @param plugins the installed plugins, found as {@code start} finds them */
    RenderCommand(Map<String, String> environment, PrintStream out, PrintStream err, Supplier<PluginRegistry> plugins) {
        this.environment = Map.copyOf(environment);
        this.out = out;
        this.err = err;
        this.plugins = plugins;
    }

    @Override
    public Integer call() {
        Settings settings;
        JsonNode variables = null;
        try {
            Operations.from(environment, false);
            settings = Settings.load(environment);
            Operations.maskCredentials(settings);
            if (jobVariables != null) {
                variables = parseVariables(jobVariables);
            }
        } catch (SettingsException e) {
            err.println("Error: " + e.getMessage());
            return Main.USAGE;
        }
        LogSetup.applyLevel(settings.loggingLevel());
        try {
            JobPreview.Rendered rendered = JobPreview.prepare(settings, environment,
                    new JobPreview.Request(pool, deployment, variables, flowRun, name));
            ObjectNode shown = JSON.createObjectNode();
            shown.set("job_configuration", JobPreview.mask(rendered.configuration()));
            Optional<InfrastructurePlugin> plugin = plugins.get().find(rendered.type());
            if (plugin.isEmpty()) {
                err.println("Note: no plugin for type '" + rendered.type() + "' is installed here, so only the job "
                        + "configuration is shown, not what a worker of that type would create from it");
            } else {
                JobPreview.infrastructure(plugin.get(), rendered, new StderrLog(err))
                        .ifPresent(infrastructure -> shown.set("infrastructure", JobPreview.mask(infrastructure)));
            }
            out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(shown));
            out.flush();
            return 0;
        } catch (JobPreview.Refused e) {
            err.println("Error: " + Main.oneLine(e.getMessage()));
            return Main.USAGE;
        } catch (LaunchException e) {
            err.println("Error: a worker would not launch this configuration: " + Main.oneLine(e.getMessage()));
            return Main.USAGE;
        } catch (ApiException e) {
            err.println("Error: cannot read from the Prefect API: " + Main.oneLine(e.getMessage()));
            return Main.FAILED;
        } catch (JsonProcessingException e) {
            err.println("Error: cannot print the configuration: " + e.getOriginalMessage());
            return Main.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Main.FAILED;
        }
    }

    /** The plugin's remarks on the configuration (keys it ignores, …), one line each; its progress is not shown. */
    private record StderrLog(PrintStream err) implements RunLog {
        @Override
        public void info(String message) {
        }

        @Override
        public void warn(String message) {
            err.println("Warning: " + Main.oneLine(message));
        }

        @Override
        public void error(String message, Throwable cause) {
            err.println("Warning: " + Main.oneLine(message));
        }
    }

    static JsonNode parseVariables(String text) throws SettingsException {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new SettingsException("--job-variables is not valid JSON: " + Main.oneLine(e.getOriginalMessage()));
        }
        if (node == null || !node.isObject()) {
            throw new SettingsException("--job-variables must be a JSON object, e.g. '{\"image\": \"etl:2\"}'");
        }
        return node;
    }
}
