package io.pworker.aci;

import com.azure.core.http.HttpClient;
import com.azure.core.http.HttpHeaderName;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.management.AzureEnvironment;
import com.azure.core.util.Context;
import java.time.Duration;
import reactor.core.publisher.Mono;

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
                httpClient(java.net.http.HttpClient.newBuilder()), true);
    }

    /**
     * The JDK's HTTP client for the SDK. It computes Content-Length itself and refuses the header; the SDK sets it
     * anyway and then warns on every request, so it is dropped before it gets there.
     */
    static HttpClient httpClient(java.net.http.HttpClient.Builder jdk) {
        HttpClient client = new JdkHttpClientBuilder(jdk).connectionTimeout(Duration.ofSeconds(10)).build();
        return new HttpClient() {
            @Override
            public Mono<HttpResponse> send(HttpRequest request) {
                return client.send(withoutLength(request));
            }

            @Override
            public Mono<HttpResponse> send(HttpRequest request, Context context) {
                return client.send(withoutLength(request), context);
            }

            @Override
            public HttpResponse sendSync(HttpRequest request, Context context) {
                return client.sendSync(withoutLength(request), context);
            }
        };
    }

    private static HttpRequest withoutLength(HttpRequest request) {
        request.getHeaders().remove(HttpHeaderName.CONTENT_LENGTH);
        return request;
    }
}
