package io.pworker.cloudrun;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.util.JsonFormat;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Type {@code cloud-run-v2}: each flow run is a Cloud Run job with one execution (Cloud Run Admin API v2).
 * Nothing of the Google client library loads until {@link #create} (or {@link #preview}, for {@code pworker render}).
 */
public final class CloudRunPlugin implements InfrastructurePlugin {

    /** Executions run on Google's machines whatever the worker does; deleting them is how a run is stopped. */
    private static final Capabilities CAPABILITIES = new Capabilities(true, true);

    @Override
    public String type() {
        return "cloud-run-v2";
    }

    @Override
    public String workerClassName() {
        return "CloudRunWorkerV2";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return InfrastructurePlugin.bundledTemplate(CloudRunPlugin.class);
    }

    /**
     * The create call a launch makes, by the launch's own code ({@link CloudRunJobConfiguration},
     * {@link CloudRunLauncher#createRequest}): the parent, the job id (and the ids tried next when another run's
     * job holds it) and the Job, as the Admin API's JSON. A project that only the worker's credentials can tell
     * (application default credentials, {@code GOOGLE_CLOUD_PROJECT}) stays a placeholder. After the job is ready
     * the launch runs it once, and deletes it after the run unless {@code keep_job}.
     */
    @Override
    public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        CloudRunJobConfiguration cfg = CloudRunJobConfiguration.from(request.configuration(), request.log());
        String keyProject = request.configuration().at("/credentials/service_account_info/project_id").asText("");
        String project;
        try {
            project = cfg.target().credentials().projectOr(keyProject.isBlank() ? null : keyProject);
        } catch (LaunchException e) {
            project = "{the project of the worker's Google credentials}";
        }
        List<String> jobIds = CloudRunLauncher.jobIds(cfg, request.run());
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        try {
            out.set("create_job", new ObjectMapper().readTree(JsonFormat.printer().print(CloudRunLauncher.createRequest(
                    "projects/" + project + "/locations/" + cfg.target().region(), jobIds.getFirst(), cfg))));
        } catch (IOException e) {
            throw new IllegalStateException("the Cloud Run client cannot print its own request: " + e.getMessage(), e);
        }
        jobIds.subList(1, jobIds.size()).forEach(out.putArray("job_ids_if_taken")::add);
        out.put("keep_job", cfg.target().keepJob());
        return Optional.of(out);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return new CloudRunLauncher(context, CloudRunSettings.from(context.environment()));
    }
}
