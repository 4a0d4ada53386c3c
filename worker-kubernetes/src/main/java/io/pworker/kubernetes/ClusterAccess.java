package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kubernetes.client.openapi.ApiClient;
import io.kubernetes.client.util.ClientBuilder;
import io.kubernetes.client.util.KubeConfig;
import io.kubernetes.client.util.credentials.TokenFileAuthentication;
import io.pworker.spi.InfrastructureException;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.SocketFactory;

/**
 * Finds the cluster to talk to, in prefect-kubernetes' order: the job configuration's
 * {@code kubernetes-cluster-config} block (kubeconfig and context); else the pod's service account when the worker
 * runs in a cluster; else the kubeconfig at {@code KUBECONFIG} or {@code ~/.kube/config}. When nothing works the
 * error lists what was tried.
 */
final class ClusterAccess {

    /** Server-side end of each watch request; the client waits a little longer before it calls a connection dead. */
    static final Duration WATCH_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> environment;
    private final Path serviceAccountDirectory;
    private final boolean tcpKeepAlive;

    /**
     * @param serviceAccountDirectory where a pod's token, CA and namespace are mounted
     *                                ({@code /var/run/secrets/kubernetes.io/serviceaccount})
     */
    ClusterAccess(Map<String, String> environment, Path serviceAccountDirectory, boolean tcpKeepAlive) {
        this.environment = environment;
        this.serviceAccountDirectory = serviceAccountDirectory;
        this.tcpKeepAlive = tcpKeepAlive;
    }

    /** @param block the configuration's cluster block, or null for the worker's own cluster */
    Cluster connect(ClusterConfig block) throws InfrastructureException {
        if (block != null) {
            return fromBlock(block);
        }
        List<String> tried = new ArrayList<>();
        Cluster inCluster = inCluster(tried);
        if (inCluster != null) {
            return inCluster;
        }
        Cluster local = fromKubeconfigFile(tried);
        if (local != null) {
            return local;
        }
        throw new InfrastructureException("no Kubernetes cluster to talk to: the job configuration has no "
                + "cluster_config block; " + String.join("; ", tried) + ". Set KUBECONFIG, run the worker in a pod, "
                + "or give the work pool a kubernetes-cluster-config block");
    }

    private Cluster fromBlock(ClusterConfig block) throws InfrastructureException {
        String what = "the kubernetes-cluster-config block" + (block.contextName() == null ? "" : " (context '"
                + block.contextName() + "')");
        try {
            // a kubeconfig object is JSON, and JSON is YAML: client-java's own loader reads it as a file
            KubeConfig kc = KubeConfig.loadKubeConfig(new StringReader(JSON.writeValueAsString(block.kubeconfig())));
            if (block.contextName() != null && !kc.setContext(block.contextName())) {
                throw new InfrastructureException(what + ": its kubeconfig has no context named '"
                        + block.contextName() + "'");
            }
            return cluster(what, ClientBuilder.kubeconfig(kc));
        } catch (IOException | RuntimeException e) {
            throw new InfrastructureException(what + " is not a usable kubeconfig: " + e.getMessage(), e);
        }
    }

    private Cluster inCluster(List<String> tried) throws InfrastructureException {
        String host = environment.get("KUBERNETES_SERVICE_HOST");
        String port = environment.get("KUBERNETES_SERVICE_PORT");
        Path token = serviceAccountDirectory.resolve("token");
        if (host == null || host.isBlank() || port == null || port.isBlank()) {
            tried.add("not in a cluster (KUBERNETES_SERVICE_HOST/_PORT unset)");
            return null;
        }
        if (!Files.isReadable(token)) {
            tried.add("in a cluster, but no service account token at " + token);
            return null;
        }
        String server = "https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        String what = "the pod's service account at " + server;
        try {
            ClientBuilder builder = new ClientBuilder().setBasePath(server)
                    .setAuthentication(new TokenFileAuthentication(token.toString()));
            Path ca = serviceAccountDirectory.resolve("ca.crt");
            if (Files.isReadable(ca)) {
                builder.setCertificateAuthority(Files.readAllBytes(ca));
            }
            return cluster(what, builder);
        } catch (IOException | RuntimeException e) {
            throw new InfrastructureException("cannot use " + what + ": " + e.getMessage(), e);
        }
    }

    private Cluster fromKubeconfigFile(List<String> tried) throws InfrastructureException {
        String variable = environment.get("KUBECONFIG");
        List<Path> candidates = new ArrayList<>();
        if (variable != null && !variable.isBlank()) {
            for (String p : variable.split(java.io.File.pathSeparator)) {
                if (!p.isBlank()) {
                    candidates.add(Path.of(p));
                }
            }
        } else {
            String home = environment.getOrDefault("HOME", System.getProperty("user.home"));
            candidates.add(Path.of(home, ".kube", "config"));
        }
        for (Path file : candidates) {
            if (!Files.isReadable(file)) {
                continue;
            }
            String what = "the kubeconfig " + file;
            try (Reader r = Files.newBufferedReader(file)) {
                KubeConfig kc = KubeConfig.loadKubeConfig(r);
                kc.setFile(file.toFile());
                return cluster(what + (kc.getCurrentContext() == null ? "" : " (context '" + kc.getCurrentContext()
                        + "')"), ClientBuilder.kubeconfig(kc));
            } catch (IOException | RuntimeException e) {
                throw new InfrastructureException(what + " is not a usable kubeconfig: " + e.getMessage(), e);
            }
        }
        tried.add("no kubeconfig at " + (variable != null && !variable.isBlank() ? "KUBECONFIG=" + variable
                : candidates.getFirst()));
        return null;
    }

    /** Two clients per cluster: calls time out in seconds, watches are long-lived streams. */
    private Cluster cluster(String description, ClientBuilder builder) {
        ApiClient calls = builder.setReadTimeout(CALL_TIMEOUT).build();
        ApiClient watches = builder.setReadTimeout(WATCH_TIMEOUT.plusSeconds(30)).build();
        if (tcpKeepAlive) {
            for (ApiClient c : List.of(calls, watches)) {
                c.setHttpClient(c.getHttpClient().newBuilder().socketFactory(new KeepAlive(SocketFactory.getDefault())).build());
            }
        }
        return new Cluster(description, calls, watches);
    }

    /** Turns on TCP keep-alive, so a silently dropped connection (a NAT, a load balancer) is noticed. */
    private static final class KeepAlive extends SocketFactory {
        private final SocketFactory delegate;

        KeepAlive(SocketFactory delegate) {
            this.delegate = delegate;
        }

        private static Socket on(Socket s) throws IOException {
            s.setKeepAlive(true);
            return s;
        }

        @Override
        public Socket createSocket() throws IOException {
            return on(delegate.createSocket());
        }

        @Override
        public Socket createSocket(String host, int port) throws IOException {
            return on(delegate.createSocket(host, port));
        }

        @Override
        public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
            return on(delegate.createSocket(host, port, localHost, localPort));
        }

        @Override
        public Socket createSocket(InetAddress host, int port) throws IOException {
            return on(delegate.createSocket(host, port));
        }

        @Override
        public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
            return on(delegate.createSocket(address, port, localAddress, localPort));
        }
    }
}
