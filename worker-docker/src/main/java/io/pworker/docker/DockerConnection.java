package io.pworker.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.RunHandle;
import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * The Docker engine this worker talks to: its address as {@code DOCKER_HOST} and friends give it, the clients for
 * it, and how its containers are named in {@code infrastructure_pid}.
 *
 * <p>Two clients share one configuration. {@link #client()} is for calls the engine answers at once (inspect,
 * create, start, remove, list) and gives up after a minute of silence, as docker-py does by default, so that a
 * wedged engine cannot hold a caller forever. {@link #streams()} has no such limit: an event stream, an attached
 * output stream or a stop with a long grace period may stay quiet for as long as they like.
 */
final class DockerConnection implements AutoCloseable {

    static final String DEFAULT_HOST = "unix:///var/run/docker.sock";
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(60);

    private final DockerClientConfig config;
    private final DockerClient client;
    private final DockerClient streams;
    /** How Prefect's docker-py names this engine in infrastructure_pid ({@code http+docker://localhost} for a socket). */
    private final String baseUrl;

    private DockerConnection(DockerClientConfig config, DockerClient client, DockerClient streams) {
        this.config = config;
        this.client = client;
        this.streams = streams;
        this.baseUrl = baseUrl(config.getDockerHost(), config.getSSLConfig() != null);
    }

    /**
     * Connects to the engine named by the worker's environment and checks that it answers.
     *
     * @throws InfrastructureException naming the address when the engine cannot be reached
     */
    static DockerConnection open(Map<String, String> env) throws InfrastructureException {
        String host = env.getOrDefault("DOCKER_HOST", DEFAULT_HOST);
        DefaultDockerClientConfig.Builder builder = DefaultDockerClientConfig.createDefaultConfigBuilder()
                .withDockerHost(host);
        String tlsVerify = env.get("DOCKER_TLS_VERIFY");
        if (tlsVerify != null) {
            builder.withDockerTlsVerify(!tlsVerify.isEmpty() && !tlsVerify.equals("0"));
        }
        if (env.containsKey("DOCKER_CERT_PATH")) {
            builder.withDockerCertPath(env.get("DOCKER_CERT_PATH"));
        }
        if (env.containsKey("DOCKER_CONFIG")) {
            builder.withDockerConfig(env.get("DOCKER_CONFIG"));
        }
        DockerClient client = null;
        DockerClient streams = null;
        try {
            DockerClientConfig config = builder.build();
            client = newClient(config, RESPONSE_TIMEOUT);
            streams = newClient(config, null);
            client.pingCmd().exec();
            return new DockerConnection(config, client, streams);
        } catch (RuntimeException e) {
            closeQuietly(client);
            closeQuietly(streams);
            throw new InfrastructureException("cannot reach the Docker engine at " + host + " (" + rootMessage(e)
                    + "); set DOCKER_HOST or start the engine", e);
        }
    }

    private static DockerClient newClient(DockerClientConfig config, Duration responseTimeout) {
        ApacheDockerHttpClient.Builder http = new ApacheDockerHttpClient.Builder()
                .dockerHost(config.getDockerHost())
                .sslConfig(config.getSSLConfig())
                .maxConnections(200)
                .connectionTimeout(CONNECT_TIMEOUT);
        if (responseTimeout != null) {
            http.responseTimeout(responseTimeout);
        }
        return DockerClientImpl.getInstance(config, http.build());
    }

    /** For calls the engine answers at once; see the class comment. */
    DockerClient client() {
        return client;
    }

    /** For streams and calls that may stay silent for long; see the class comment. */
    DockerClient streams() {
        return streams;
    }

    /**
     * A client with connections of its own, for one call that must be abortable: closing it cuts its connection
     * even before the engine has answered (an image pull hanging on a registry sends no headers until the
     * registry replies), which closing a docker-java callback cannot do.
     */
    DockerClient openPrivate() {
        return newClient(config, null);
    }

    String baseUrl() {
        return baseUrl;
    }

    /** Prefect's {@code infrastructure_pid} for a container of this engine: {@code <base url>:<container id>}. */
    String infrastructurePid(String containerId) {
        return baseUrl + ":" + containerId;
    }

    /** False when the handle names a container of another engine (a different base URL before the id). */
    boolean owns(RunHandle handle) {
        String pid = handle.infrastructurePid();
        int split = pid.lastIndexOf(':');
        return split <= 0 || pid.substring(0, split).equals(baseUrl);
    }

    /** The container a handle of this engine names; its name is the short id when the handle does not say. */
    ContainerRef container(RunHandle handle) throws InfrastructureException {
        if (!owns(handle)) {
            throw new InfrastructureException("container " + handle.infrastructurePid() + " belongs to another Docker"
                    + " engine than this worker's (" + baseUrl + ")");
        }
        String pid = handle.infrastructurePid();
        String id = handle.state().getOrDefault("container_id", pid.substring(pid.lastIndexOf(':') + 1));
        return new ContainerRef(id, handle.state().getOrDefault("container_name", ContainerRef.shortId(id)));
    }

    static String baseUrl(URI host, boolean tls) {
        if ("unix".equals(host.getScheme()) || "npipe".equals(host.getScheme())) {
            return "http+docker://localhost";
        }
        return (tls ? "https" : "http") + "://" + host.getHost() + (host.getPort() > 0 ? ":" + host.getPort() : "");
    }

    @Override
    public void close() {
        closeQuietly(client);
        closeQuietly(streams);
    }

    static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing anyway
            }
        }
    }

    /** The most telling message of an exception chain, on one line; docker-java wraps the engine's words deeply. */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        String best = String.valueOf(e.getMessage());
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (t.getMessage() != null) {
                best = t.getMessage();
            }
        }
        if (e.getMessage() != null && e.getMessage().length() > best.length()) {
            best = e.getMessage();
        }
        return best.strip().replace('\n', ' ');
    }

    /** A container of this engine as the launcher refers to it: the id for calls, the name for messages. */
    record ContainerRef(String id, String name) {

        static String shortId(String id) {
            return id.substring(0, Math.min(12, id.length()));
        }
    }
}
