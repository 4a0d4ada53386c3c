package io.pworker.cloudrun;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;

/**
 * Type {@code cloud-run-v2}: each flow run is a Cloud Run job with one execution (Cloud Run Admin API v2).
 * Nothing of the Google client library loads until {@link #create}.
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

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return new CloudRunLauncher(context, CloudRunSettings.from(context.environment()));
    }
}
