package io.pworker.ecs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import java.util.Optional;

/**
 * Type {@code ecs}: each flow run is an AWS ECS task. Nothing of the AWS SDK loads until {@link #create} or
 * {@link #preview}.
 */
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

    /**
     * The RegisterTaskDefinition and RunTask requests a launch would send, in ECS's field names (see
     * {@link EcsPreview}); the worker's environment is this process's.
     */
    @Override
    public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        return Optional.of(EcsPreview.of(request, System.getenv()));
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
