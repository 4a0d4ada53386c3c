package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pworker.api.ApiException;
import io.pworker.api.Deployment;
import io.pworker.api.FlowRun;
import io.pworker.api.PrefectClient;
import io.pworker.api.PrefectHttp;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import io.pworker.settings.Settings;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.RunLog;
import io.pworker.template.JobVariables;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code pworker render}: the job configuration a worker would hand its plugin for a deployment, built by the
 * worker's own {@link ConfigurationBuilder} (merge, schema check, rendering, blocks and variables, Prefect's
 * preparation), so that the preview cannot drift from what runs; then what the type's plugin would ask its backend
 * for, from the plugin's own launch code ({@link #infrastructure}). Read-only: no claim, no state, no heartbeat,
 * so a worker id the server would give on Cloud ({@code PREFECT__WORKER_ID}) is absent.
 */
public final class JobPreview {

    /** The flow run id shown when no {@code --flow-run} is given: visibly not a real run. */
    public static final String PREVIEW_RUN_ID = "00000000-0000-0000-0000-000000000000";
    private static final Pattern UUID = Pattern.compile("[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}");

    /**
     * What to preview.
     *
     * @param deployment   a deployment id, or {@code flow-name/deployment-name}
     * @param jobVariables job variables for the run, over the flow run's own; null for none
     * @param flowRunId    an existing run of the deployment to render for, or null for a made-up one
     * @param workerName   the name the worker would have (it appears in the environment and labels)
     */
    public record Request(String pool, String deployment, JsonNode jobVariables, String flowRunId, String workerName) {
    }

    /** The request cannot be rendered as given: a missing object, or job variables the schema refuses. */
    public static final class Refused extends Exception {
        public Refused(String message) {
            super(message);
        }
    }

    private JobPreview() {
    }

    /**
     * What render found: the pool's type, and the run and configuration a worker would launch with.
     *
     * @param type the pool's worker type, whose plugin is asked for {@link #infrastructure}
     */
    public record Rendered(String type, FlowRunInfo run, ObjectNode configuration) {
        public Rendered {
            configuration = configuration.deepCopy();
        }

        @Override
        public ObjectNode configuration() {
            return configuration.deepCopy();
        }
    }

    /** Builds the configuration; not yet masked (see {@link #mask}). */
    public static ObjectNode render(Settings settings, Map<String, String> environment, Request request)
            throws Refused, ApiException, InterruptedException {
        return prepare(settings, environment, request).configuration();
    }

    /** Builds the run and its configuration as the worker would; not yet masked (see {@link #mask}). */
    public static Rendered prepare(Settings settings, Map<String, String> environment, Request request)
            throws Refused, ApiException, InterruptedException {
        try (PrefectClient client = new PrefectClient(new PrefectHttp(settings, request.workerName(), Version.get(),
                Worker.PREFECT_VERSION))) {
            PrefectObjects prefect = new PrefectObjects(client);
            WorkPool pool = prefect.workPool(request.pool())
                    .orElseThrow(() -> new Refused("work pool '" + request.pool() + "' does not exist"));
            JsonNode rawDeployment = deployment(client, request.deployment())
                    .orElseThrow(() -> new Refused("deployment '" + request.deployment() + "' does not exist"));
            Deployment deployment = Deployment.from(rawDeployment);
            FlowRun run = flowRun(prefect, request, deployment, rawDeployment.path("flow_id").asText(null));
            ConfigurationBuilder builder = new ConfigurationBuilder(prefect, environment,
                    () -> Worker.inheritedEnvironment(settings, Optional.empty()), request.workerName());
            try {
                ConfigurationBuilder.PreparedRun prepared = builder.build(run, deployment, pool);
                return new Rendered(pool.type(), prepared.info(), prepared.configuration());
            } catch (ConfigurationBuilder.SubmissionException e) {
                throw new Refused(e.getMessage());
            }
        }
    }

    /**
     * What {@code plugin} would ask its backend for when launching {@code rendered}, through the plugin's own
     * launch code ({@link InfrastructurePlugin#preview}); not yet masked. The plugin is handed exactly what
     * {@link RunSupervisor} hands a launcher: the run and a copy of the configuration.
     *
     * @param log where the plugin's warnings about the configuration go (ignored keys, …)
     * @throws LaunchException when a launch would refuse the configuration, with the launch's message
     */
    public static Optional<ObjectNode> infrastructure(InfrastructurePlugin plugin, Rendered rendered, RunLog log)
            throws LaunchException {
        return plugin.preview(new LaunchRequest(rendered.run(), rendered.configuration(), log));
    }

    private static Optional<JsonNode> deployment(PrefectClient client, String reference)
            throws ApiException, InterruptedException {
        if (UUID.matcher(reference).matches()) {
            return client.readDeployment(reference);
        }
        int slash = reference.indexOf('/');
        if (slash <= 0 || slash == reference.length() - 1) {
            return Optional.empty();
        }
        var answer = client.http().get("/deployments/name/" + PrefectHttp.segment(reference.substring(0, slash)) + "/"
                + PrefectHttp.segment(reference.substring(slash + 1)));
        return answer.status() == 404 ? Optional.empty() : Optional.of(answer.body());
    }

    private static FlowRun flowRun(PrefectObjects prefect, Request request, Deployment deployment, String flowId)
            throws Refused, ApiException, InterruptedException {
        if (request.flowRunId() == null) {
            return new FlowRun(PREVIEW_RUN_ID, "pworker-render-preview", flowId, deployment.id(),
                    request.jobVariables(), java.util.List.of(), "SCHEDULED", "Scheduled", null, false,
                    Map.of("id", TextNode.valueOf(PREVIEW_RUN_ID), "name", TextNode.valueOf("pworker-render-preview")));
        }
        FlowRun run = prefect.flowRun(request.flowRunId())
                .orElseThrow(() -> new Refused("flow run '" + request.flowRunId() + "' does not exist"));
        if (!deployment.id().equals(run.deploymentId())) {
            throw new Refused("flow run '" + request.flowRunId() + "' belongs to another deployment ("
                    + run.deploymentId() + ")");
        }
        if (request.jobVariables() == null) {
            return run;
        }
        return new FlowRun(run.id(), run.name(), run.flowId(), run.deploymentId(),
                JobVariables.merge(run.jobVariables(), request.jobVariables()), run.tags(), run.stateType(),
                run.stateName(), run.infrastructurePid(), run.started(), run.fields());
    }

    /**
     * Hides credentials before a configuration or a plugin's preview is shown (see {@link PreviewMask}): values
     * whose names say they are secret, in every shape an environment takes, fields that hold credentials, and the
     * worker's own credentials wherever they appear.
     */
    public static ObjectNode mask(ObjectNode configuration) {
        return PreviewMask.mask(configuration);
    }
}
