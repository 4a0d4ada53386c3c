package io.pworker.aci;

import com.azure.core.credential.TokenCredential;
import com.azure.core.util.Configuration;
import com.azure.core.util.ConfigurationBuilder;
import com.azure.core.util.ConfigurationSource;
import com.azure.identity.ClientSecretCredentialBuilder;
import com.azure.identity.DefaultAzureCredentialBuilder;
import java.util.Map;

/**
 * The {@code azure-container-instance-credentials} block: a service principal, or nothing at all for the default
 * Azure credential chain (environment, workload identity, managed identity, Azure CLI, …), as prefect-azure does.
 * {@link #toString()} never shows the secret.
 */
record AciCredentials(String clientId, String tenantId, String clientSecret) {

    static final AciCredentials DEFAULT_CHAIN = new AciCredentials(null, null, null);

    boolean servicePrincipal() {
        return clientSecret != null;
    }

    /**
     * A credential that asks {@code cloud}'s authority for tokens. The default chain reads its settings
     * ({@code AZURE_CLIENT_ID}, {@code AZURE_TENANT_ID}, …) from the worker's environment as the core gives it.
     */
    TokenCredential credential(AzureCloud cloud, Map<String, String> environment) {
        if (servicePrincipal()) {
            ClientSecretCredentialBuilder b = new ClientSecretCredentialBuilder().clientId(clientId).tenantId(tenantId)
                    .clientSecret(clientSecret).authorityHost(cloud.authorityHost()).httpClient(cloud.httpClient());
            if (!cloud.instanceDiscovery()) {
                b.disableInstanceDiscovery();
            }
            return b.build();
        }
        ConfigurationSource none = source -> Map.of();
        Configuration configuration = new ConfigurationBuilder(none, none, source -> environment).build();
        DefaultAzureCredentialBuilder b = new DefaultAzureCredentialBuilder().configuration(configuration)
                .authorityHost(cloud.authorityHost()).httpClient(cloud.httpClient());
        if (!cloud.instanceDiscovery()) {
            b.disableInstanceDiscovery();
        }
        return b.build();
    }

    @Override
    public String toString() {
        return servicePrincipal() ? "AciCredentials[clientId=" + clientId + ", tenantId=" + tenantId + "]"
                : "AciCredentials[default Azure credential chain]";
    }
}
