package io.pworker.docker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Type {@code docker}: each flow run is a container on a Docker engine. Nothing of docker-java loads until {@link #create}. */
public final class DockerPlugin implements InfrastructurePlugin {

    /** Containers outlive the worker and report their own state; the worker watches them to their exit code. */
    private static final Capabilities CAPABILITIES = new Capabilities(true, true, true);

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
        try (InputStream in = DockerPlugin.class.getResourceAsStream("base-job-template.json")) {
            return (ObjectNode) new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("docker plugin jar lacks its base job template", e);
        }
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
