package io.pworker.aci;

import com.azure.core.http.HttpClient;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.management.AzureEnvironment;
import java.time.Duration;

/**
 * Where the Azure Resource Manager and Microsoft Entra ID are, and how to reach them. The public cloud in
 * production; tests point every endpoint at a local fake.
 *
 * @param environment       the Resource Manager endpoints
 * @param authorityHost     where credentials get their tokens ({@code https://login.microsoftonline.com/})
 * @param httpClient        shared by every client and credential of a launcher
 * @param instanceDiscovery whether credentials check the authority with Microsoft first (off for a fake one)
 */
record AzureCloud(AzureEnvironment environment, String authorityHost, HttpClient httpClient, boolean instanceDiscovery) {

    static AzureCloud publicCloud() {
        return new AzureCloud(AzureEnvironment.AZURE, "https://login.microsoftonline.com/",
                new JdkHttpClientBuilder().connectionTimeout(Duration.ofSeconds(10)).build(), true);
    }
}
