package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;
import java.nio.file.Path;
import java.time.Duration;

/** Type {@code kubernetes}: each flow run is a Kubernetes Job. Nothing of client-java loads until {@link #create}. */
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
