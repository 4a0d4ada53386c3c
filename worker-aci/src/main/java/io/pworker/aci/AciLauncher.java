package io.pworker.aci;

import com.azure.core.management.exception.ManagementError;
import com.azure.core.management.polling.PollResult;
import com.azure.core.util.polling.LongRunningOperationStatus;
import com.azure.core.util.polling.PollResponse;
import com.azure.core.util.polling.SyncPoller;
import com.azure.resourcemanager.containerinstance.fluent.models.ContainerGroupInner;
import com.azure.resourcemanager.resources.fluent.models.DeploymentExtendedInner;
import com.azure.resourcemanager.resources.fluent.models.DeploymentInner;
import com.azure.resourcemanager.resources.models.DeploymentMode;
import com.azure.resourcemanager.resources.models.DeploymentParameter;
import com.azure.resourcemanager.resources.models.DeploymentProperties;
import com.azure.resourcemanager.resources.models.ProvisioningState;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs flow runs as ACI container groups created by ARM deployments, as prefect-azure does: deploy, wait for the
 * deployment with the SDK's poller, watch the container to its exit code, then delete (or stop) the group.
 */
final class AciLauncher implements InfrastructureLauncher {

    static final String DEFAULT_PYTHON = "3.12";
    /** prefect-azure's limit; a slower deletion most likely left an orphaned group behind. */
    static final Duration DELETE_TIMEOUT = Duration.ofSeconds(30);
    private static final Logger log = LoggerFactory.getLogger(AciLauncher.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** ARM's refusal of a deployment while one of the same name is still running. */
    static final String DEPLOYMENT_ACTIVE = "DeploymentActive";

    private final PluginContext context;
    private final AzureCloud cloud;
    /** One set of clients per subscription and identity; their credentials cache tokens. */
    private final Map<AciClients.Key, AciClients> clients = new ConcurrentHashMap<>();
    private final GroupWatcher watcher;
    /** Where this launcher has put or watched groups, for {@link #discover}, besides the pool's own place. */
    private final Set<GroupPlace> places = ConcurrentHashMap.newKeySet();

    AciLauncher(PluginContext context, AzureCloud cloud) {
        this.context = context;
        this.cloud = cloud;
        this.watcher = new GroupWatcher(context.console());
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        AciJobConfiguration c = AciJobConfiguration.from(request.configuration(),
                defaultImage(context.environment().get("PWORKER_ACI_DEFAULT_IMAGE"), request.configuration()));
        String name = GroupName.of(request.run().flowName(), request.run().id());
        RunHandle handle = new RunHandle(request.run().id() + ":" + name,
                Map.of("resource_group", c.resourceGroup(), "container_group", name));
        AciClients api = clients(c);
        places.add(new GroupPlace(key(c), c.resourceGroup()));
        ContainerGroupInner existing;
        try {
            existing = find(api, c.resourceGroup(), name);
        } catch (RuntimeException e) {
            throw new LaunchException("cannot look for container group '" + name + "' in resource group '"
                    + c.resourceGroup() + "': " + AzureErrors.describe(e), e);
        }
        if (existing != null) {
            request.log().info("Found container group '" + name + "' from an earlier launch of this flow run; "
                    + "watching it instead of creating another");
            return checked(api, c, name, existing, handle);
        }
        ObjectNode template = ArmTemplate.prepare(c, AciTags.of(request.run()));
        request.log().info("Creating container group '" + name + "' in resource group '" + c.resourceGroup()
                + "' with image '" + c.image() + "'");
        deploy(api, c, name, template, request.log());
        ContainerGroupInner group;
        try {
            group = api.groups().getByResourceGroup(c.resourceGroup(), name);
        } catch (RuntimeException e) {
            throw new LaunchException("Container creation failed: the deployment succeeded but container group '" + name
                    + "' cannot be read: " + AzureErrors.describe(e), e);
        }
        request.log().info("Container group '" + name + "' is provisioned");
        return checked(api, c, name, group, handle);
    }

    /** The ARM deployment that creates container group {@code name} from the prepared {@code template}. */
    static DeploymentInner deployment(ObjectNode template, String name) {
        return new DeploymentInner().withProperties(new DeploymentProperties()
                .withMode(DeploymentMode.INCREMENTAL)
                .withTemplate(JSON.convertValue(template, new TypeReference<Map<String, Object>>() { }))
                .withParameters(Map.of("container_group_name", new DeploymentParameter().withValue(name))));
    }

    /**
     * Runs the ARM deployment and waits for it with the SDK's poller, at most {@code task_start_timeout_seconds}.
     * When an earlier launch of the same run is still deploying (ARM refuses with {@code DeploymentActive}), that
     * deployment is waited for instead, and its group adopted.
     */
    private void deploy(AciClients api, AciJobConfiguration c, String name, ObjectNode template, RunLog log)
            throws LaunchException, InterruptedException {
        DeploymentInner deployment = deployment(template, name);
        String deploymentName = GroupName.deploymentName(name);
        SyncPoller<PollResult<DeploymentExtendedInner>, DeploymentExtendedInner> poller;
        try {
            poller = api.deployments().beginCreateOrUpdate(c.resourceGroup(), deploymentName, deployment);
        } catch (RuntimeException e) {
            if (DEPLOYMENT_ACTIVE.equals(AzureErrors.code(e)) && !Thread.currentThread().isInterrupted()) {
                log.info("Deployment '" + deploymentName + "' of container group '" + name + "' from an earlier launch "
                        + "of this flow run is still running; waiting for it instead of deploying again");
                awaitActive(api, c, name, deploymentName);
                return;
            }
            throw interruptedOr(e, new LaunchException("Azure refused the deployment of container group '" + name
                    + "': " + AzureErrors.describe(e), e), api, c, name);
        }
        poller.setPollInterval(c.pollInterval());
        PollResponse<PollResult<DeploymentExtendedInner>> last;
        try {
            last = poller.waitForCompletion(c.startTimeout());
        } catch (RuntimeException e) {
            if (e.getCause() instanceof TimeoutException || e instanceof IllegalStateException && timedOut(e)) {
                cancelQuietly(api, c.resourceGroup(), deploymentName);
                deleteQuietly(api, c.resourceGroup(), name);
                throw new LaunchException("Timed out after " + c.startTimeout().toSeconds() + " s waiting for container "
                        + "group '" + name + "' to start (task_start_timeout_seconds); the group was deleted");
            }
            throw interruptedOr(e, failed(name, e), api, c, name);
        }
        if (last.getStatus() != LongRunningOperationStatus.SUCCESSFULLY_COMPLETED) {
            PollResult.Error error = last.getValue() == null ? null : last.getValue().getError();
            deleteQuietly(api, c.resourceGroup(), name);
            throw new LaunchException("Container creation failed for group '" + name + "': "
                    + (error != null ? AzureErrors.describe(error) : "deployment '" + deploymentName + "' ended " + last.getStatus()));
        }
    }

    /**
     * Re-reads a deployment started by an earlier launch until ARM says it ended, at the run's poll interval and
     * within {@code task_start_timeout_seconds}, as the SDK's poller would have done for that launch. A failure,
     * a timeout or an interrupt leaves nothing behind, as for a deployment of this launch's own.
     */
    private void awaitActive(AciClients api, AciJobConfiguration c, String name, String deploymentName)
            throws LaunchException, InterruptedException {
        long deadline = System.nanoTime() + c.startTimeout().toNanos();
        while (true) {
            DeploymentExtendedInner current;
            try {
                current = api.deployments().getByResourceGroup(c.resourceGroup(), deploymentName);
            } catch (RuntimeException e) {
                if (AzureErrors.notFound(e)) {
                    throw new LaunchException("Container creation failed for group '" + name + "': deployment '"
                            + deploymentName + "' of an earlier launch disappeared before it finished", e);
                }
                throw interruptedOr(e, new LaunchException("cannot read deployment '" + deploymentName
                        + "' of container group '" + name + "': " + AzureErrors.describe(e), e), api, c, name);
            }
            ProvisioningState state = current.properties() == null ? null : current.properties().provisioningState();
            if (ProvisioningState.SUCCEEDED.equals(state)) {
                return;
            }
            if (ProvisioningState.FAILED.equals(state) || ProvisioningState.CANCELED.equals(state)) {
                ManagementError error = current.properties().error();
                deleteQuietly(api, c.resourceGroup(), name);
                throw new LaunchException("Container creation failed for group '" + name + "': "
                        + (error != null && error.getMessage() != null ? AzureErrors.describe(error)
                                : "deployment '" + deploymentName + "' of an earlier launch ended " + state));
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                cancelQuietly(api, c.resourceGroup(), deploymentName);
                deleteQuietly(api, c.resourceGroup(), name);
                throw new LaunchException("Timed out after " + c.startTimeout().toSeconds() + " s waiting for container "
                        + "group '" + name + "' to start (task_start_timeout_seconds); the group was deleted");
            }
            try {
                Thread.sleep(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, Math.max(1, c.pollInterval().toMillis())));
            } catch (InterruptedException e) {
                cancelQuietly(api, c.resourceGroup(), deploymentName);
                deleteQuietly(api, c.resourceGroup(), name);
                throw new InterruptedException("launch of container group '" + name + "' interrupted; the group was deleted");
            }
        }
    }

    private static LaunchException failed(String name, RuntimeException e) {
        return new LaunchException("Container creation failed for group '" + name + "': " + AzureErrors.describe(e), e);
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TimeoutException) {
                return true;
            }
        }
        return false;
    }

    /**
     * The SDK turns an interrupt into a runtime exception of its own; the core's cancellation needs the
     * interrupt back, and nothing left behind.
     */
    private LaunchException interruptedOr(RuntimeException e, LaunchException otherwise, AciClients api,
            AciJobConfiguration c, String name) throws InterruptedException {
        boolean interrupted = Thread.interrupted();
        for (Throwable t = e; t != null && !interrupted; t = t.getCause()) {
            interrupted = t instanceof InterruptedException;
        }
        if (interrupted) {
            cancelQuietly(api, c.resourceGroup(), GroupName.deploymentName(name));
            deleteQuietly(api, c.resourceGroup(), name);
            throw new InterruptedException("launch of container group '" + name + "' interrupted; the group was deleted");
        }
        return otherwise;
    }

    /** prefect-azure reads the first container only; a template with more would run the flow more than once. */
    private RunHandle checked(AciClients api, AciJobConfiguration c, String name, ContainerGroupInner group,
            RunHandle handle) throws LaunchException {
        int count = group.containers() == null ? 0 : group.containers().size();
        if (count != 1) {
            deleteQuietly(api, c.resourceGroup(), name);
            throw new LaunchException("Container creation failed: container group '" + name + "' has " + count
                    + " containers; the ARM template must define exactly one, which runs the flow");
        }
        return handle;
    }

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        AciJobConfiguration c = configuration(configuration);
        places.add(new GroupPlace(key(c), c.resourceGroup()));
        return watcher.watch(clients(c), c.resourceGroup(), groupName(handle), c.streamOutput(), c.pollInterval(), sink);
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException {
        AciJobConfiguration c = configuration(configuration);
        String name = groupName(handle);
        try {
            return GroupPhase.of(clients(c).groups().getByResourceGroup(c.resourceGroup(), name), name);
        } catch (RuntimeException e) {
            if (AzureErrors.notFound(e)) {
                return GroupPhase.deleted(name);
            }
            throw new InfrastructureException("cannot read container group '" + name + "': " + AzureErrors.describe(e), e);
        }
    }

    /** ACI has no graceful stop: stopping or deleting a group kills its container at once, whatever the grace. */
    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) throws InfrastructureException {
        AciJobConfiguration c = configuration(configuration);
        String name = groupName(handle);
        AciClients api = clients(c);
        try {
            // deleting a missing resource is no error for ARM, so ask first
            if (find(api, c.resourceGroup(), name) == null) {
                return KillOutcome.NOT_FOUND;
            }
            if (c.keepContainerGroup()) {
                api.groups().stop(c.resourceGroup(), name);
            } else {
                delete(api, c.resourceGroup(), name);
            }
            return KillOutcome.KILLED;
        } catch (RuntimeException e) {
            if (AzureErrors.notFound(e)) {
                return KillOutcome.NOT_FOUND;
            }
            throw new InfrastructureException("cannot " + (c.keepContainerGroup() ? "stop" : "delete") + " container group '"
                    + name + "': " + AzureErrors.describe(e), e);
        }
    }

    /** Deletes the group, or stops it with {@code keep_container_group}, as prefect-azure does after every run. */
    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        String name = handle.state().getOrDefault("container_group", handle.infrastructurePid());
        try {
            AciJobConfiguration c = configuration(configuration);
            name = groupName(handle);
            AciClients api = clients(c);
            if (c.keepContainerGroup()) {
                if (find(api, c.resourceGroup(), name) != null) {
                    api.groups().stop(c.resourceGroup(), name);
                }
            } else {
                delete(api, c.resourceGroup(), name);
            }
        } catch (InfrastructureException | RuntimeException e) {
            log.warn("Could not clean up container group {}: {}", name,
                    e instanceof InfrastructureException ? e.getMessage() : AzureErrors.describe(e));
        }
    }

    /**
     * Groups tagged with the scope's pool (and worker), in the resource group of the pool's template defaults
     * (with its subscription and credentials) and wherever this launcher has put or watched groups. ACI's list
     * leaves out the containers' state, so each group found is read once more for its phase.
     */
    @Override
    public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException {
        Set<GroupPlace> where = new LinkedHashSet<>();
        GroupPlace pool = GroupPlace.ofDefaults(scope.configuration());
        if (pool != null) {
            where.add(pool);
        }
        where.addAll(places);
        // two identities may reach the same resource group: each group once
        Map<String, Discovered> out = new LinkedHashMap<>();
        for (GroupPlace place : where) {
            AciClients api = clients(place.key());
            try {
                for (ContainerGroupInner listed : api.groups().listByResourceGroup(place.resourceGroup())) {
                    String runId = AciTags.runIn(listed.tags(), scope);
                    String id = (place.key().subscriptionId() + "/" + place.resourceGroup() + "/" + listed.name())
                            .toLowerCase(Locale.ROOT);
                    if (runId == null || out.containsKey(id)) {
                        continue;
                    }
                    ContainerGroupInner group = find(api, place.resourceGroup(), listed.name());
                    if (group != null) {
                        out.put(id, new Discovered(runId, new RunHandle(runId + ":" + listed.name(), Map.of(
                                "resource_group", place.resourceGroup(), "container_group", listed.name())),
                                GroupPhase.of(group, listed.name())));
                    }
                }
            } catch (RuntimeException e) {
                throw new InfrastructureException("cannot list the container groups in " + place + ": "
                        + AzureErrors.describe(e), e);
            }
        }
        return List.copyOf(out.values());
    }

    @Override
    public void close() {
        watcher.close();
    }

    private void delete(AciClients api, String resourceGroup, String name) throws InfrastructureException {
        try {
            api.groups().beginDelete(resourceGroup, name).waitForCompletion(DELETE_TIMEOUT);
        } catch (RuntimeException e) {
            if (timedOut(e)) {
                throw new InfrastructureException("container group '" + name + "' was not deleted within "
                        + DELETE_TIMEOUT.toSeconds() + " s; check for an orphaned group with: az container show --name "
                        + name + " --resource-group " + resourceGroup);
            }
            throw e;
        }
    }

    private void deleteQuietly(AciClients api, String resourceGroup, String name) {
        boolean interrupted = Thread.interrupted();
        try {
            delete(api, resourceGroup, name);
        } catch (InfrastructureException | RuntimeException e) {
            log.warn("Could not delete container group {}: {}", name,
                    e instanceof InfrastructureException ? e.getMessage() : AzureErrors.describe(e));
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A deployment still running would create the group after it was deleted. */
    private void cancelQuietly(AciClients api, String resourceGroup, String deploymentName) {
        try {
            api.deployments().cancel(resourceGroup, deploymentName);
        } catch (RuntimeException e) {
            // finished in the meantime (409) or gone; either way it creates nothing more
        }
    }

    private static ContainerGroupInner find(AciClients api, String resourceGroup, String name) {
        try {
            return api.groups().getByResourceGroup(resourceGroup, name);
        } catch (RuntimeException e) {
            if (AzureErrors.notFound(e)) {
                return null;
            }
            throw e;
        }
    }

    private AciClients clients(AciJobConfiguration c) throws LaunchException {
        return clients(key(c));
    }

    private static AciClients.Key key(AciJobConfiguration c) {
        return new AciClients.Key(c.subscriptionId(), c.credentials());
    }

    private AciClients clients(AciClients.Key key) throws LaunchException {
        try {
            return clients.computeIfAbsent(key, k -> AciClients.connect(k, cloud, context.environment()));
        } catch (RuntimeException e) {
            throw new LaunchException("cannot set up the Azure clients for " + key + ": " + AzureErrors.describe(e), e);
        }
    }

    private static AciJobConfiguration configuration(ObjectNode configuration) throws InfrastructureException {
        return AciJobConfiguration.from(configuration, "");
    }

    private static String groupName(RunHandle handle) throws InfrastructureException {
        String fromState = handle.state().get("container_group");
        if (fromState != null) {
            return fromState;
        }
        try {
            return GroupName.fromHandle(handle);
        } catch (IllegalArgumentException e) {
            throw new InfrastructureException(e.getMessage());
        }
    }

    /** The Prefect image of the version pworker speaks, as prefect-azure defaults to its own version's image. */
    /** @param override {@code PWORKER_ACI_DEFAULT_IMAGE}, or null */
    static String defaultImage(String override, ObjectNode configuration) {
        if (override != null && !override.isBlank()) {
            return override;
        }
        String version = configuration.path("labels").path("prefect.io/version").asText("");
        return "prefecthq/prefect:" + (version.matches("\\d+\\.\\d+\\.\\d+") ? version : "3") + "-python" + DEFAULT_PYTHON;
    }
}
