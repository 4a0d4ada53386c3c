package io.pworker.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
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
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Type {@code kubernetes}: each flow run is a Kubernetes Job. Nothing of client-java loads until {@link #create}
 * (or {@link #preview}, for {@code pworker render}).
 */
public final class KubernetesPlugin implements InfrastructurePlugin {

    /** Jobs outlive the worker; the worker deletes them to cancel a run. */
    private static final Capabilities CAPABILITIES = new Capabilities(true, true);
    static final Path SERVICE_ACCOUNT = Path.of("/var/run/secrets/kubernetes.io/serviceaccount");
    /** How long the API server may stay unreachable before the runs watched through it are given up. */
    static final Duration GIVE_UP_AFTER = Duration.ofMinutes(2);

    @Override
    public String type() {
        return "kubernetes";
    }

    @Override
    public String workerClassName() {
        return "KubernetesWorker";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return InfrastructurePlugin.bundledTemplate(KubernetesPlugin.class);
    }

    /**
     * The Job a launch creates, by the launch's own steps ({@link KubernetesJobConfiguration#prepare},
     * {@link KubernetesLauncher.JobRequest}): the request and the body as client-java sends it. Shown with the
     * secret options unset, since they are the worker's settings ({@code PREFECT_INTEGRATIONS_KUBERNETES_WORKER_*}):
     * a worker with them passes {@code PREFECT_API_KEY}, or the whole environment, from Secrets instead.
     */
    @Override
    public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        KubernetesJobConfiguration config = KubernetesJobConfiguration.prepare(request.configuration(), request.run(),
                KubernetesLauncher.defaultImage(null, request.configuration()));
        KubernetesLauncher.JobRequest job = KubernetesLauncher.JobRequest.of(config,
                new JobSecrets(KubernetesSettings.from(Map.of()), request.run().workerName()), null, request.run().id(),
                request.log());
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("cluster", config.cluster() == null ? "(the worker's own: in-cluster service account or kubeconfig)"
                : "the cluster_config block's kubeconfig" + (config.cluster().contextName() == null ? ""
                        : ", context " + config.cluster().contextName()));
        out.put("request", "POST /apis/batch/v1/namespaces/" + config.namespace() + "/jobs");
        try {
            out.set("body", new ObjectMapper().readTree(io.kubernetes.client.openapi.JSON.serialize(job.job())));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("client-java wrote a Job that is not JSON: " + e.getOriginalMessage(), e);
        }
        return Optional.of(out);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        KubernetesSettings settings;
        try {
            settings = KubernetesSettings.from(context.environment());
        } catch (IllegalArgumentException e) {
            throw new InfrastructureException(e.getMessage(), e);
        }
        return new KubernetesLauncher(context.workerName(), settings,
                new ClusterAccess(context.environment(), SERVICE_ACCOUNT, settings.tcpKeepAlive()), GIVE_UP_AFTER);
    }
}
