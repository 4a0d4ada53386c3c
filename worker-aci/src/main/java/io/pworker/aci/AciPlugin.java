package io.pworker.aci;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;

/**
 * Type {@code azure-container-instance}: each flow run is an ACI container group created by an ARM deployment.
 * Nothing of the Azure SDK loads until {@link #create}.
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

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return new AciLauncher(context, cloud != null ? cloud : AzureCloud.publicCloud());
    }
}
