package io.pworker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.api.ApiException;
import io.pworker.settings.Settings;
import io.pworker.settings.SettingsException;
import io.pworker.worker.JobPreview;
import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pworker render}: prints the job configuration the worker would hand its plugin for a deployment, with
 * credentials masked. Exit 2 when the request cannot be rendered as given (job variables the schema refuses, a
 * pool or deployment that does not exist), 1 when the API cannot be read.
 */
@Command(name = "render", mixinStandardHelpOptions = true,
        description = "Print the job configuration a worker would launch for a deployment (secrets masked).")
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

    RenderCommand() {
        this(System.getenv(), System.out, System.err);
    }

    RenderCommand(Map<String, String> environment, PrintStream out, PrintStream err) {
        this.environment = Map.copyOf(environment);
        this.out = out;
        this.err = err;
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
            var configuration = JobPreview.render(settings, environment,
                    new JobPreview.Request(pool, deployment, variables, flowRun, name));
            out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(JobPreview.mask(configuration)));
            out.flush();
            return 0;
        } catch (JobPreview.Refused e) {
            err.println("Error: " + Main.oneLine(e.getMessage()));
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
