package io.pworker.ecs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;

/** Type {@code ecs}: each flow run is an AWS ECS task. Nothing of the AWS SDK loads until {@link #create}. */
public final class EcsPlugin implements InfrastructurePlugin {

    /** Tasks run on AWS whatever the worker does; StopTask stops them. */
    private static final Capabilities CAPABILITIES = new Capabilities(true, true);

    @Override
    public String type() {
        return "ecs";
    }

    @Override
    public String workerClassName() {
        return "ECSWorker";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return InfrastructurePlugin.bundledTemplate(EcsPlugin.class);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return EcsLauncher.create(context);
    }
}
