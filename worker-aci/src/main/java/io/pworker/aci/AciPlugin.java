package io.pworker.aci;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import java.io.IOException;
import java.util.Optional;

/**
 * Type {@code azure-container-instance}: each flow run is an ACI container group created by an ARM deployment.
 * Nothing of the Azure SDK loads until {@link #create} (or {@link #preview}, for {@code pworker render}).
 */
public final class AciPlugin implements InfrastructurePlugin {

    /** Container groups run in Azure whatever the worker does; deleting or stopping one ends its run. */
    private static final Capabilities CAPABILITIES = new Capabilities(true, true);

    private final AzureCloud cloud;

    /** The public Azure cloud; what {@link java.util.ServiceLoader} uses. */
    public AciPlugin() {
        this(null);
    }

    /** Another cloud (a fake Resource Manager in tests); null for the public one. */
    AciPlugin(AzureCloud cloud) {
        this.cloud = cloud;
    }

    @Override
    public String type() {
        return "azure-container-instance";
    }

    @Override
    public String workerClassName() {
        return "AzureContainerWorker";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return InfrastructurePlugin.bundledTemplate(AciPlugin.class);
    }

    /**
     * The ARM deployment a launch makes, by the launch's own code ({@link AciJobConfiguration},
     * {@link ArmTemplate#prepare}, {@link AciLauncher#deployment}): the request and the body as the Azure SDK sends
     * it, whose template holds the container group. A launch of a run whose group exists already watches that one
     * instead; after the run the group is deleted unless {@code keep_container_group}.
     */
    @Override
    public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        AciJobConfiguration c = AciJobConfiguration.from(request.configuration(),
                AciLauncher.defaultImage(null, request.configuration()));
        String name = GroupName.of(request.run().flowName(), request.run().id());
        ObjectNode template = ArmTemplate.prepare(c, AciTags.of(request.run()));
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("container_group", name);
        out.put("request", "PUT /subscriptions/" + c.subscriptionId() + "/resourcegroups/" + c.resourceGroup()
                + "/providers/Microsoft.Resources/deployments/" + GroupName.deploymentName(name));
        try {
            out.set("body", new ObjectMapper().readTree(AciLauncher.deployment(template, name).toJsonString()));
        } catch (IOException e) {
            throw new IllegalStateException("the Azure SDK cannot write its own deployment: " + e.getMessage(), e);
        }
        out.put("keep_container_group", c.keepContainerGroup());
        return Optional.of(out);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return new AciLauncher(context, cloud != null ? cloud : AzureCloud.publicCloud());
    }
}
