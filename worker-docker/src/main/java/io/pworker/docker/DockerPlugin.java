package io.pworker.docker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;

/** Type {@code docker}: each flow run is a container on a Docker engine. Nothing of docker-java loads until {@link #create}. */
public final class DockerPlugin implements InfrastructurePlugin {

    /** Containers outlive the worker and report their own state; the worker watches them to their exit code. */
    private static final Capabilities CAPABILITIES = new Capabilities(true, true);

    @Override
    public String type() {
        return "docker";
    }

    @Override
    public String workerClassName() {
        return "DockerWorker";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return InfrastructurePlugin.bundledTemplate(DockerPlugin.class);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return DockerLauncher.connect(context);
    }
}
