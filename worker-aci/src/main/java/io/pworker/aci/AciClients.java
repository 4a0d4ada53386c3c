package io.pworker.aci;

import com.azure.core.management.profile.AzureProfile;
import com.azure.resourcemanager.containerinstance.ContainerInstanceManager;
import com.azure.resourcemanager.containerinstance.fluent.ContainerGroupsClient;
import com.azure.resourcemanager.containerinstance.fluent.ContainersClient;
import com.azure.resourcemanager.resources.fluent.DeploymentsClient;
import java.util.Map;

/** The three Resource Manager clients a run needs, for one subscription and one set of credentials. */
record AciClients(ContainerGroupsClient groups, ContainersClient containers, DeploymentsClient deployments) {

    /** Who the clients act as; the secret takes part in equality but never in {@link #toString()}. */
    record Key(String subscriptionId, AciCredentials credentials) {
        @Override
        public String toString() {
            return "subscription " + subscriptionId + " as " + credentials;
        }
    }

    static AciClients connect(Key key, AzureCloud cloud, Map<String, String> environment) {
        ContainerInstanceManager manager = ContainerInstanceManager.configure()
                .withHttpClient(cloud.httpClient())
                .authenticate(key.credentials().credential(cloud, environment),
                        new AzureProfile(key.credentials().tenantId(), key.subscriptionId(), cloud.environment()));
        return new AciClients(manager.serviceClient().getContainerGroups(), manager.serviceClient().getContainers(),
                manager.resourceManager().deploymentClient().getDeployments());
    }
}
