package io.pworker.spi;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The one door an infrastructure module offers to pworker, found with {@link java.util.ServiceLoader}
 * (a plugin lists its class in {@code META-INF/services/io.pworker.spi.InfrastructurePlugin}).
 *
 * <p>A plugin object is a stateless catalogue entry. The core instantiates every plugin on the class path
 * (for {@code pworker types} too), so the constructor and the first four methods must be cheap and must not
 * touch the backend SDK, the network or the file system beyond reading a bundled resource. Everything live
 * happens in the {@link InfrastructureLauncher} returned by {@link #create}.
 *
 * <p>A plugin never talks to the Prefect API. Blocks and variables referenced by the job configuration are
 * already resolved when a launcher sees it, and all flow-run state changes are the core's.
 */
public interface InfrastructurePlugin {

    /** The Prefect worker type this plugin serves, e.g. {@code "process"} or {@code "docker"}. */
    String type();

    /**
     * The class name Prefect's own worker for this type has ({@code ProcessWorker}, {@code DockerWorker}, …).
     * The core names a worker {@code "<this> <uuid>"} when no {@code --name} is given, as Prefect does.
     */
    String workerClassName();

    /**
     * A fresh copy of the default base job template ({@code {"job_configuration": …, "variables": …}}),
     * installed in a pool the worker creates or finds with an empty template. Must be structurally equal to
     * Prefect's template for the same type (variable names, types, defaults, job_configuration keys).
     */
    ObjectNode defaultBaseJobTemplate();

    /**
     * Reads {@code base-job-template.json} from the plugin's own package, where plugins keep their default
     * template; a missing or broken file is a packaging error.
     */
    static ObjectNode bundledTemplate(Class<? extends InfrastructurePlugin> plugin) {
        try (java.io.InputStream in = plugin.getResourceAsStream("base-job-template.json")) {
            if (in == null) {
                throw new IllegalStateException(plugin.getName() + " has no base-job-template.json next to it");
            }
            return (ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
        } catch (java.io.IOException | ClassCastException e) {
            throw new IllegalStateException(plugin.getName() + " has an unreadable base-job-template.json", e);
        }
    }

    /**
     * What a launch of {@code request} would ask the backend to create, in the backend's own shapes (the Kubernetes
     * Job manifest, the ECS task definition and RunTask request, a container's create spec, a process's command
     * line and environment), for {@code pworker render}. Must be built by the same code the launcher uses to
     * build its request, and must not touch the backend, the network or the file system: values a launch only
     * learns from the backend (a default VPC's subnets, an image's digest) appear as a short placeholder text that
     * says so. Empty when the type has nothing to show beyond its job configuration.
     *
     * @throws LaunchException when a launch of this configuration would fail before reaching the backend, with
     *     the message the launch would give
     */
    default java.util.Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        return java.util.Optional.empty();
    }

    /** What the core may ask of this type's launcher; constant for a plugin. */
    Capabilities capabilities();

    /**
     * Builds the live side: clients, connections to the backend. Called at most once per worker process,
     * before the first run is launched, and only for the type the worker serves.
     *
     * @throws InfrastructureException when the backend cannot be reached or configured; the message is shown
     *     to the user as the reason the worker cannot start, so name the endpoint and the cause
     */
    InfrastructureLauncher create(PluginContext context) throws InfrastructureException;
}
