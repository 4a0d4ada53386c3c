package io.pworker.docker;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
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
 * Type {@code docker}: each flow run is a container on a Docker engine. Nothing of docker-java loads until
 * {@link #create} (or {@link #preview}, for {@code pworker render}).
 */
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

    /**
     * What a launch asks the engine for, made by the launch's own code ({@link DockerJobConfiguration},
     * {@link ContainerSpec}): the image and its pull policy, the create call (path, query and the JSON body
     * docker-java sends), the networks joined after it, and what happens to the output and the container. The
     * launch may differ in two ways only: a name in use gets {@code -1}, {@code -2}, … and an image left empty is
     * {@code PWORKER_DOCKER_DEFAULT_IMAGE} when the worker has it set.
     */
    @Override
    public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        DockerJobConfiguration config = DockerJobConfiguration.from(request.configuration(),
                DockerLauncher.defaultImage(null, request));
        ContainerSpec spec = new ContainerSpec(config, request.run(), request.log());
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        ObjectNode image = out.putObject("image");
        image.put("name", spec.image());
        image.put("pull_policy", config.effectivePullPolicy());
        if (config.registryCredentials() != null) {
            image.put("registry_username", config.registryCredentials().username());
            image.put("registry_url", config.registryCredentials().registryUrl());
        }
        out.set("create", spec.createRequest());
        spec.laterNetworks().forEach(out.putArray("networks_joined_after_create")::add);
        out.put("output", spec.streamOutput() ? "attached before the start and copied to the worker's console"
                : "not attached");
        out.put("remove_after_run", spec.autoRemove());
        return Optional.of(out);
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
