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
import io.pworker.logging.SecretMask;
import io.pworker.settings.Settings;
import io.pworker.template.JobVariables;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code pworker render}: the job configuration a worker would hand its plugin for a deployment, built by the
 * worker's own {@link ConfigurationBuilder} (merge, schema check, rendering, blocks and variables, Prefect's
 * preparation), so that the preview cannot drift from what runs. Read-only: no claim, no state, no heartbeat, so
 * a worker id the server would give on Cloud ({@code PREFECT__WORKER_ID}) is absent.
 */
public final class JobPreview {

    /** The flow run id shown when no {@code --flow-run} is given: visibly not a real run. */
    public static final String PREVIEW_RUN_ID = "00000000-0000-0000-0000-000000000000";
    private static final Pattern UUID = Pattern.compile("[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}");
    /** Environment variables whose values are credentials by their name. */
    private static final Pattern SECRET_NAME = Pattern.compile("(?i).*(API_KEY|AUTH_STRING|SECRET|TOKEN|PASSWORD).*");

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

    /** Builds the configuration; not yet masked (see {@link #mask}). */
    public static ObjectNode render(Settings settings, Map<String, String> environment, Request request)
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
                return builder.build(run, deployment, pool).configuration();
            } catch (ConfigurationBuilder.SubmissionException e) {
                throw new Refused(e.getMessage());
            }
        }
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
     * Hides credentials before the configuration is shown: environment values whose name says they are secret
     * (API keys, auth strings, tokens, passwords), and the worker's own credentials wherever they appear.
     */
    public static ObjectNode mask(ObjectNode configuration) {
        ObjectNode out = configuration.deepCopy();
        JsonNode env = out.get("env");
        if (env instanceof ObjectNode envObject) {
            envObject.properties().forEach(e -> {
                if (SECRET_NAME.matcher(e.getKey()).matches() && !e.getValue().isNull()) {
                    e.setValue(TextNode.valueOf(SecretMask.MASK));
                }
            });
        }
        maskValues(out);
        return out;
    }

    private static void maskValues(JsonNode node) {
        if (node instanceof ObjectNode object) {
            object.properties().forEach(e -> {
                if (e.getValue().isTextual()) {
                    e.setValue(TextNode.valueOf(SecretMask.mask(e.getValue().asText())));
                } else {
                    maskValues(e.getValue());
                }
            });
        } else if (node instanceof com.fasterxml.jackson.databind.node.ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                if (array.get(i).isTextual()) {
                    array.set(i, TextNode.valueOf(SecretMask.mask(array.get(i).asText())));
                } else {
                    maskValues(array.get(i));
                }
            }
        }
    }
}
